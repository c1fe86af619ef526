"""The production planner of the sample plant: what runs when, on which machine, from which lots.

The planner is cheap (no documents are built here) and fully deterministic from the seed, so the
generator can run it twice: once to learn the supplier receipts the plan needs (they are loaded
first) and once to emit production. It walks day by day:

1. quality events due that day (a supplier lot found nonconforming is blocked);
2. supplier receipts (received the afternoon before, approved after incoming inspection)
   when a material's free stock falls below three days of demand;
3. moulding and extrusion from 07:00 to cover the next day's assembly demand (released after
   in-process inspection); resin is loaded into per-machine dryer charges (sublots);
4. assembly batches from 06:00, spread over the day, each pinned to the process version effective
   at its start, consuming FIFO from released intermediates and received lots.

Times are integer seconds from ``T0`` (see :mod:`bench.plant_stock`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from bench.plant_catalog import (
    MATERIALS,
    PROCESSES,
    PRODUCTS,
    UNITS_PER_CASE,
    V2_AT,
    OpDef,
    PlantSize,
)
from bench.plant_people import staff
from bench.plant_stock import (
    DAY,
    HOUR,
    BatchPlan,
    Charge,
    Entry,
    OpRun,
    PlanError,
    QualityEvent,
    Receipt,
    Stock,
    date_of,
    equipment_park,
    fixture_of,
    yymmdd,
)
from ontology.codes import RoleName

__all__ = ["Planner"]

CHARGE_SHARE = 2.5   # a dryer charge holds this many moulded batches' worth of resin
REEL_COUNT = 3       # reels cut from one extruded batch


class Planner:
    """Day-by-day plan of one plant; iterate :meth:`days` to get each day's work."""

    def __init__(self, size: PlantSize, seed: int) -> None:
        self.size = size
        self.rng = random.Random(f"{seed}/plan")
        self.equipment = equipment_park(size)
        self.free_at: dict[str, int] = {tag: -2 * DAY for tags in self.equipment.values()
                                        for tag in tags}
        self.staff = staff(size, seed)
        self.operators: dict[str, list[str]] = {}
        for person in self.staff:
            if person.role in (RoleName.OPERATOR, RoleName.QC):
                for q in person.qualifications:
                    self.operators.setdefault(q, []).append(person.key)
        self.stock: dict[str, Stock] = {m.code: Stock(m.code, m.unit) for m in MATERIALS.values()}
        for p in PRODUCTS.values():
            if not p.finished:
                self.stock[p.code] = Stock(p.code, p.unit)
        self.charges: dict[str, Entry | None] = {t: None for t in self.equipment["EC-IMM"]}
        self.charge_seq = 0
        self.wo_seq = 0
        self.serial_seq = 0
        self.case_seq = 0
        self.receipt_seq: dict[int, int] = {}
        self.supplier_seq: dict[str, int] = {}
        self.v2_day = round(V2_AT * size.days)
        self.daily_units = (size.cath_per_day + size.inf_per_day) * sum(size.units) / 2
        self.excursion_day = max(1, round(0.3 * size.days))
        self.block_day = max(2, round(0.55 * size.days))
        self.quality: list[QualityEvent] = []
        self.adhesive_lots: list[Entry] = []
        self._upcoming: dict[int, list[tuple[str, int]]] = {}

    # -- demand -------------------------------------------------------------------------------
    def _assembly_day(self, day: int) -> list[tuple[str, int]]:
        """The assembly batches of a day: (process, planned units), drawn once."""
        if day not in self._upcoming:
            lo, hi = self.size.units
            todo = ([("CATH-ASSY", self.rng.randint(lo, hi)) for _ in range(self.size.cath_per_day)]
                    + [("INFSET-ASSY", self.rng.randint(lo, hi))
                       for _ in range(self.size.inf_per_day)])
            self.rng.shuffle(todo)
            self._upcoming[day] = todo
        return self._upcoming[day]

    def _avg_daily(self, code: str) -> float:
        """Average daily demand of a material or intermediate, from the size and the BOMs."""
        s = self.size
        total = 0.0
        for proc, n in (("CATH-ASSY", s.cath_per_day), ("INFSET-ASSY", s.inf_per_day)):
            for op in self._version(proc, 0)[1]:
                total += sum(q for m, q in op.bom if m == code) * n * sum(s.units) / 2
        if code in ("PP-H350", "MB-PINK"):
            total = self._avg_daily("CONN-LL") * _bom_qty("CONN-MOULD", code)
        if code == "PU-80A":
            total = self._avg_daily("TUBE-PU20") * _bom_qty("TUBE-EXTR", code)
        return total

    def _lump(self, code: str) -> float:
        """The largest single draw on a material: a dryer charge, an extruded batch's resin."""
        s = self.size
        if code == "PP-H350":
            return s.mould_batch * _bom_qty("CONN-MOULD", code) * CHARGE_SHARE
        if code == "MB-PINK":
            return s.mould_batch * _bom_qty("CONN-MOULD", code)
        if code == "PU-80A":
            return s.extrusion_batch * _bom_qty("TUBE-EXTR", code)
        return 0.0

    def _version(self, process: str, day: int) -> tuple[str, tuple[OpDef, ...]]:
        versions = PROCESSES[process].versions
        if process == "CATH-ASSY":
            v = "v2" if day >= self.v2_day else "v1"
            return v, versions[v][2]
        return "v1", versions["v1"][2]

    # -- the walk -----------------------------------------------------------------------------
    def days(self) -> Iterator[tuple[int, list[Receipt], list[BatchPlan]]]:
        """Yield (day, receipts, batches started that day) for day -1 … days-1."""
        yield -1, self._opening_stock() + self._receipts(-1), self._intermediates(-1)
        for day in range(self.size.days):
            self._quality_today(day)
            receipts = self._receipts(day)
            batches = self._intermediates(day) if day + 1 < self.size.days else []
            batches += self._assembly(day)
            yield day, receipts, batches

    def _quality_today(self, day: int) -> None:
        if day == self.block_day:
            # the supplier's notice concerns a lot first used about four days ago: part of what
            # it went into has shipped (field action scope), the rest is held
            at = day * DAY + 9 * HOUR
            used = [(e.first_use, e) for e in self.adhesive_lots if e.first_use is not None]
            if used:
                lot = max(((t, e) for t, e in used if t <= at - 4 * DAY), default=used[0],
                          key=lambda te: te[0])[1]
                self.stock["ADH-UV"].block(lot)
                self.quality.append(QualityEvent(
                    "supplier-lot", at, lot=lot.ref, material="ADH-UV",
                    affected=sorted(set(lot.consumers))))

    # -- receipts -----------------------------------------------------------------------------
    def _new_lot(self, code: str, qty: float, at: int) -> Receipt:
        m = MATERIALS[code]
        day = at // DAY
        n = self.receipt_seq.get(day, 0) + 1
        self.receipt_seq[day] = n
        k = self.supplier_seq.get(m.supplier, self.rng.randint(1000, 5000)) + 1
        self.supplier_seq[m.supplier] = k
        r = Receipt(f"RL{yymmdd(at)}{n:03d}", code, f"{m.lot_prefix}{yymmdd(at)[:2]}{k:06d}",
                    qty, at, at + 4 * HOUR, date_of(at, m.shelf_days - self.rng.randint(30, 120)))
        e = Entry(f"MaterialLot/{r.key}", qty, r.approved)
        self.stock[code].add(e)
        if code == "ADH-UV":
            self.adhesive_lots.append(e)
        return r

    def _lot_qty(self, code: str) -> float:
        m = MATERIALS[code]
        lo, hi = m.lot_size
        q = self.rng.randint(lo, hi) * self.size.lot_scale
        return float(max(1, round(q))) if m.unit in ("{pc}", "m", "g") else round(q, 1)

    def _opening_stock(self) -> list[Receipt]:
        """Remnants of earlier deliveries, small enough that day 0 already needs a second lot."""
        out = []
        for i, code in enumerate(MATERIALS):
            qty = self._avg_daily(code) * self.rng.uniform(0.3, 0.8)
            qty = float(max(1, round(qty))) if MATERIALS[code].unit != "kg" else round(qty, 2)
            out.append(self._new_lot(code, max(qty, 0.5), -20 * DAY + 9 * HOUR + 300 * i))
        return out

    def _receipts(self, day: int) -> list[Receipt]:
        out: list[Receipt] = []
        at = (day - 1) * DAY + 13 * HOUR  # received the afternoon before, approved by 17:00
        for code in MATERIALS:
            avg = self._avg_daily(code)
            lump = self._lump(code)
            st = self.stock[code]
            free = st.free
            if free >= 3 * avg + lump:
                continue
            while free < 5 * avg + 2 * lump:
                qty = self._lot_qty(code)
                out.append(self._new_lot(code, qty, at + 120 * len(out)))
                free += qty
        return out

    # -- intermediates ------------------------------------------------------------------------
    def _intermediates(self, day: int) -> list[BatchPlan]:
        """Moulding and extrusion on ``day`` covering ``day + 1``'s assembly and a safety stock."""
        out: list[BatchPlan] = []
        need: dict[str, float] = {"CONN-LL": 0.0, "TUBE-PU20": 0.0}
        for d in (day, day + 1):  # today's assembly still draws on the free stock
            for proc, n in self._assembly_day(d) if d >= 0 else ():
                for op in self._version(proc, d)[1]:
                    for code, q in op.bom:
                        if code in need:
                            need[code] += q * n
        for code, proc, size in (("CONN-LL", "CONN-MOULD", self.size.mould_batch),
                                 ("TUBE-PU20", "TUBE-EXTR", self.size.extrusion_batch)):
            st = self.stock[code]
            target = need[code] + 0.3 * self._avg_daily(code)
            have = st.free
            while have < target:
                b = self._intermediate_batch(proc, size, day)
                out.append(b)
                have += b.good
        return out

    def _intermediate_batch(self, proc: str, size: int, day: int) -> BatchPlan:
        p = PROCESSES[proc]
        version, ops = self._version(proc, day)
        product = PRODUCTS[p.product]
        cls = "EC-IMM" if proc == "CONN-MOULD" else "EC-EXT"
        tag = min(self.equipment[cls], key=lambda t: (self.free_at[t], t))
        start = max(day * DAY + 7 * HOUR, self.free_at[tag]) + self.rng.randint(0, 40) * 60
        planned = float(size) if product.unit == "m" else size
        if proc == "CONN-MOULD":
            dur = int(size / 8 * self.rng.uniform(11.8, 12.3))  # 8 cavities, ~12 s cycles
        else:
            dur = HOUR + int(size / 30 * 60 * self.rng.uniform(1.0, 1.08))  # setup + 30 m/min
        key = f"{'MC' if proc == 'CONN-MOULD' else 'XT'}{yymmdd(start)}{self._seq(start, proc)}"
        main, insp = ops
        run = OpRun(main, start, start + dur, tag, fixture_of(tag) if main.fixture else None,
                    self._operator(main.qualification, key))
        self.free_at[tag] = run.end + 20 * 60
        b = BatchPlan(key, product.code, proc, version, self._work_order(), planned, planned,
                      start, [run], 0)
        if proc == "CONN-MOULD":
            self._mould_consumption(b, run, size)
        else:
            for code, q in main.bom:
                run.consumes += [(ref, round(x, 3), MATERIALS[code].unit)
                                 for ref, x in self.stock[code].take(q * size, start, key)]
        scrap = self.rng.uniform(0.002, 0.012)
        b.good = round(size * (1 - scrap)) if product.unit == "{pc}" else \
            round(size * (1 - scrap), 1)
        i0 = run.end + 15 * 60
        i1 = i0 + int(self.rng.uniform(*insp.duration_h) * HOUR)
        b.ops.append(OpRun(insp, i0, i1, None, None, self._operator(insp.qualification, key)))
        b.released = i1 + 30 * 60
        if proc == "TUBE-EXTR":
            left = float(b.good)
            for r in range(REEL_COUNT):
                q = round(left if r == REEL_COUNT - 1 else b.good / REEL_COUNT, 1)
                left -= q
                b.reels.append((f"{key}-R{r + 1}", q))
                self.stock["TUBE-PU20"].add(Entry(f"Sublot/{key}-R{r + 1}", q, b.released))
        else:
            self.stock["CONN-LL"].add(Entry(f"Batch/{key}", b.good, b.released))
        return b

    def _mould_consumption(self, b: BatchPlan, run: OpRun, size: int) -> None:
        assert run.equipment is not None
        tag = run.equipment
        resin = size * _bom_qty("CONN-MOULD", "PP-H350")
        while resin > 1e-9:
            ch = self.charges[tag]
            if ch is None or ch.remaining <= 1e-9:
                ch = self._load_charge(b, tag, run.start - HOUR)
            x = min(resin, ch.remaining)
            ch.remaining -= x
            resin -= x
            run.consumes.append((ch.ref, round(x, 3), "kg"))
        mb = size * _bom_qty("CONN-MOULD", "MB-PINK")
        run.consumes += [(ref, round(x, 3), "kg")
                         for ref, x in self.stock["MB-PINK"].take(mb, run.start, b.key)]

    def _load_charge(self, b: BatchPlan, tag: str, at: int) -> Entry:
        self.charge_seq += 1
        qty = round(max(2.0, self.size.mould_batch * _bom_qty("CONN-MOULD", "PP-H350")
                        * CHARGE_SHARE), 1)
        key = f"DC-{tag}-{self.charge_seq:05d}"
        src = [(ref, round(x, 3)) for ref, x in self.stock["PP-H350"].take(qty, at, key)]
        b.charges.append(Charge(key, tag, at, qty, src))
        e = Entry(f"Sublot/{key}", qty, at)
        self.charges[tag] = e
        return e

    # -- assembly -----------------------------------------------------------------------------
    def _assembly(self, day: int) -> list[BatchPlan]:
        todo = self._assembly_day(day)
        del self._upcoming[day]
        out = []
        spacing = 18 * HOUR // max(1, len(todo))
        for i, (proc, n) in enumerate(todo):
            out.append(self._assembly_batch(proc, n, day * DAY + 6 * HOUR + i * spacing
                                            + self.rng.randint(0, 20) * 60, day))
        return out

    def _assembly_batch(self, proc: str, n: int, start: int, day: int) -> BatchPlan:
        p = PROCESSES[proc]
        version, ops = self._version(proc, day)
        prefix = "CA" if proc == "CATH-ASSY" else "IS"
        key = f"{prefix}{yymmdd(start)}{self._seq(start, proc)}"
        b = BatchPlan(key, p.product, proc, version, self._work_order(), n, n, start, [], 0)
        t = start
        station: str | None = None
        good = n
        for op in ops:
            if op.eq_class == "EC-EO":
                tag, t0 = self._eo_cycle(t)
            elif op.eq_class == "EC-UVB" and station is not None:
                tag, t0 = station, max(t, self.free_at[station])
            elif op.eq_class is not None:
                tag = min(self.equipment[op.eq_class], key=lambda x: (self.free_at[x], x))
                t0 = max(t, self.free_at[tag])
            else:
                tag, t0 = None, t
            if op.eq_class == "EC-UVB":
                station = tag
            dur = int(self.rng.uniform(*op.duration_h) * HOUR)
            run = OpRun(op, t0, t0 + dur, tag,
                        fixture_of(tag) if op.fixture and tag else None,
                        self._operator(op.qualification, key))
            if tag is not None and op.eq_class != "EC-EO":
                self.free_at[tag] = run.end + 10 * 60
            for code, q in op.bom:
                qty = q * (n if op.seq < 50 else good)
                unit = self.stock[code].unit
                if unit == "{pc}":
                    qty = math.ceil(qty - 1e-9)
                run.consumes += [(ref, round(x, 3), unit)
                                 for ref, x in self.stock[code].take(qty, t0, key)]
            if op.seq == 40:
                good = n - self._rejects(n)
            b.ops.append(run)
            t = run.end + self.rng.randint(5, 30) * 60
        b.good = good
        b.released = b.ops[-1].end + int(self.rng.uniform(20, 28) * HOUR)  # BI read-out, review
        b.first_serial = self.serial_seq + 1
        self.serial_seq += good
        b.first_case = self.case_seq + 1
        self.case_seq += math.ceil(good / UNITS_PER_CASE)
        if (proc == "CATH-ASSY" and day == self.excursion_day
                and not any(q.kind == "excursion" for q in self.quality)):
            b.excursion = True
            self.quality.append(QualityEvent("excursion", b.ops[1].start + 47 * 60, batch=key))
        return b

    def _rejects(self, n: int) -> int:
        return sum(1 for _ in range(n) if self.rng.random() < 0.002) if n < 2000 else \
            round(n * self.rng.uniform(0.0005, 0.004))

    def _eo_cycle(self, t: int) -> tuple[str, int]:
        """EO cycles start daily at 20:00 on each chamber in turn, loaded with whatever is ready."""
        tags = self.equipment["EC-EO"]
        day = t // DAY
        start = day * DAY + 20 * HOUR
        if start < t + 2 * HOUR:
            start += DAY
        k = (start // DAY) % len(tags)
        return tags[k], start + 10 * 60 * k

    # -- people and numbers -------------------------------------------------------------------
    def _operator(self, qualification: str, key: str) -> str:
        people = self.operators.get(qualification)
        if not people:
            raise PlanError(f"nobody holds {qualification}")
        return people[self.rng.randrange(len(people))]

    def _work_order(self) -> str:
        self.wo_seq += 1
        return f"WO{self.wo_seq:07d}"

    _seqs: dict[tuple[int, str], int]

    def _seq(self, at: int, proc: str) -> str:
        if not hasattr(self, "_seqs"):
            self._seqs = {}
        k = (at // DAY, proc)
        self._seqs[k] = self._seqs.get(k, 0) + 1
        return f"{self._seqs[k]:02d}"


def _bom_qty(process: str, code: str) -> float:
    ops = PROCESSES[process].versions["v1"][2]
    return sum(q for op in ops for m, q in op.bom if m == code)
