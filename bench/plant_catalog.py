"""The static catalogue of the sample plant: sizes, materials, products, processes, equipment.

A catheter / infusion-set maker. In-house: luer connector hubs are injection-moulded from PP resin
(dried in dryer charges), catheter tubing is extruded from medical PU and cut into reels; catheters
and infusion sets are assembled (UV bonding), leak tested, pouched and UDI-labelled (serialised),
packed into shipper cases (SSCC) and EO-sterilised in the case, then released and shipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.plant_gs1 import gtin14

__all__ = [
    "CHARACTERISTICS",
    "EQUIPMENT_CLASSES",
    "MATERIALS",
    "PROCESSES",
    "PRODUCTS",
    "SIZES",
    "SUPPLIERS",
    "Char",
    "MaterialDef",
    "OpDef",
    "Param",
    "PlantSize",
    "ProcessDef",
    "ProductDef",
]


@dataclass(frozen=True)
class PlantSize:
    """How big a plant to generate."""

    name: str
    days: int                  #: production days
    cath_per_day: int          #: catheter assembly batches a day
    inf_per_day: int           #: infusion-set assembly batches a day
    units: tuple[int, int]     #: units per assembly batch (min, max)
    mould_batch: int           #: connectors per moulded batch
    extrusion_batch: int       #: metres per extruded tubing batch
    customers: int
    ship_cases: tuple[int, int]  #: cases per shipment (min, max)
    lines: int                 #: scale of the equipment park (UV bonders = 2 x lines ...)
    operators: int
    lot_scale: float = 1.0     #: supplier lot sizes times this


SIZES: dict[str, PlantSize] = {
    "demo": PlantSize("demo", days=10, cath_per_day=2, inf_per_day=1, units=(110, 160),
                      mould_batch=1500, extrusion_batch=60, customers=10, ship_cases=(2, 5),
                      lines=1, operators=8, lot_scale=0.1),
    "md-s": PlantSize("md-s", days=100, cath_per_day=12, inf_per_day=8, units=(420, 580),
                      mould_batch=12000, extrusion_batch=1500, customers=300,
                      ship_cases=(4, 20), lines=3, operators=24),
    "md-m": PlantSize("md-m", days=500, cath_per_day=24, inf_per_day=16, units=(420, 580),
                      mould_batch=24000, extrusion_batch=3000, customers=1000,
                      ship_cases=(4, 20), lines=6, operators=48),
}

UNITS_PER_CASE = 50


@dataclass(frozen=True)
class MaterialDef:
    code: str
    name: str
    unit: str            #: UCUM code of quantities
    supplier: str
    lot_size: tuple[int, int]
    shelf_days: int
    lot_prefix: str      #: supplier's lot-number prefix


SUPPLIERS: dict[str, tuple[str, str, str]] = {  # key → name, address, country
    "SUP-POLYEU": ("Polymer Europa GmbH", "Industriestrasse 12, 67056 Ludwigshafen", "DE"),
    "SUP-LUBRI": ("Lubrimed Polyurethanes Inc.", "400 Lakeside Dr, Wilmington, OH 45177", "US"),
    "SUP-COLOR": ("ColorTech Masterbatch S.p.A.", "Via dell'Industria 8, 21052 Busto Arsizio",
                  "IT"),
    "SUP-FLEXI": ("Flexitube Medical Ltd", "Parkmore Business Park West, Galway H91 X2P3", "IE"),
    "SUP-CANNU": ("Precision Cannula Co., Ltd.", "2-14-7 Hongo, Bunkyo-ku, Tokyo 113-0033", "JP"),
    "SUP-MBOND": ("Medibond Adhesives LLC", "18 Quarry Rd, Torrington, CT 06790", "US"),
    "SUP-COMPO": ("Medicomp Plastics Sdn Bhd", "Lot 22, Bayan Lepas FIZ, 11900 Penang", "MY"),
    "SUP-STERP": ("Sterilpack Verpackungen GmbH", "Am Hafen 3, 79108 Freiburg", "DE"),
    "SUP-CARTO": ("CartonPro Packaging Ltd", "Unit 4, Ballybrit Ind. Est., Galway H91 K2W0",
                  "IE"),
    "SUP-LABEL": ("LabelTech Systems B.V.", "Kanaalweg 21, 5611 Eindhoven", "NL"),
}

MATERIALS: dict[str, MaterialDef] = {m.code: m for m in (
    MaterialDef("PP-H350", "Polypropylene homopolymer resin, medical grade", "kg", "SUP-POLYEU",
                (500, 1000), 730, "PE"),
    MaterialDef("MB-PINK", "Pink colour masterbatch (20G hub colour code)", "kg", "SUP-COLOR",
                (25, 50), 540, "CT"),
    MaterialDef("PU-80A", "Medical-grade aliphatic polyurethane resin, 80A", "kg", "SUP-LUBRI",
                (50, 100), 540, "LM"),
    MaterialDef("PVC-TUBE-3", "PVC tubing 3.0 x 4.1 mm, DEHP-free", "m", "SUP-FLEXI",
                (4000, 6000), 1095, "FX"),
    MaterialDef("NDL-20G", "Stainless steel cannula 20G x 45 mm, back-bevelled", "{pc}",
                "SUP-CANNU",
                (2000, 4000), 1825, "PC"),
    MaterialDef("VENT-PLUG", "Flashback vent plug, hydrophobic", "{pc}", "SUP-COMPO",
                (3000, 6000), 1095, "MC"),
    MaterialDef("NDL-CAP", "Needle protective cap, PE", "{pc}", "SUP-COMPO",
                (3000, 6000), 1095, "MC"),
    MaterialDef("SPIKE-DC", "Spike with drip chamber, 20 drops/mL", "{pc}", "SUP-COMPO",
                (2000, 4000), 1095, "MC"),
    MaterialDef("CLAMP-R", "Roller clamp", "{pc}", "SUP-COMPO", (3000, 6000), 1095, "MC"),
    MaterialDef("ADH-UV", "UV-curing medical adhesive (acrylated urethane)", "g", "SUP-MBOND",
                (250, 500), 365, "MB"),
    MaterialDef("POUCH-T", "Tyvek/film peel pouch 75 x 250 mm", "{pc}", "SUP-STERP",
                (3000, 6000), 1095, "SP"),
    MaterialDef("LABEL-UDI", "UDI pouch label, thermal transfer", "{pc}", "SUP-LABEL",
                (4000, 8000), 730, "LT"),
    MaterialDef("CASE-50", "Corrugated shipper case for 50 units", "{pc}", "SUP-CARTO",
                (200, 400), 1825, "CP"),
)}


@dataclass(frozen=True)
class ProductDef:
    code: str
    name: str
    item: int             #: GTIN item reference
    finished: bool
    unit: str
    shelf_days: int = 0

    @property
    def gtin(self) -> str:
        return gtin14(self.item)


PRODUCTS: dict[str, ProductDef] = {p.code: p for p in (
    ProductDef("CONN-LL", "Luer-lock connector hub, PP, pink", 101, False, "{pc}"),
    ProductDef("TUBE-PU20", "PU catheter tubing 20G (1.10 x 0.80 mm)", 102, False, "m"),
    ProductDef("CATH-IV20", "Safety IV catheter 20G x 32 mm", 201, True, "{pc}", 1095),
    ProductDef("INFSET-150", "Gravity infusion set 150 cm, luer lock", 301, True, "{pc}", 1095),
)}


@dataclass(frozen=True)
class Param:
    code: str
    name: str
    unit: str
    setpoint: float
    lsl: float
    usl: float
    cpp: bool
    sigma: float          #: process spread of readings around the setpoint

    def limits(self) -> tuple[float, float, float, float]:
        """(actionLow, alertLow, alertHigh, actionHigh) inside LSL/USL."""
        span = self.usl - self.lsl
        return (round(self.lsl + 0.1 * span, 4), round(self.lsl + 0.2 * span, 4),
                round(self.usl - 0.2 * span, 4), round(self.usl - 0.1 * span, 4))


@dataclass(frozen=True)
class Char:
    code: str
    name: str
    method: str
    unit: str | None = None       #: None: attribute (pass/fail) characteristic
    lsl: float | None = None
    usl: float | None = None
    nominal: float = 0.0
    sigma: float = 0.0
    sample: int = 5


@dataclass(frozen=True)
class OpDef:
    seq: int
    name: str
    eq_class: str | None
    qualification: str
    duration_h: tuple[float, float]
    params: tuple[Param, ...] = ()
    chars: tuple[Char, ...] = ()
    fixture: bool = False          #: uses the fixture (mould / bonding nest) of its equipment
    #: BOM lines consumed here: (material or intermediate product, quantity per output unit)
    bom: tuple[tuple[str, float], ...] = ()

    @property
    def code(self) -> str:
        return f"OP{self.seq}"


@dataclass(frozen=True)
class ProcessDef:
    code: str
    name: str
    product: str
    #: version → (status, effective-from day offset from the plant's start, operations)
    versions: dict[str, tuple[str, int, tuple[OpDef, ...]]] = field(default_factory=dict)


EQUIPMENT_CLASSES: dict[str, tuple[str, str, str, str]] = {
    # class → name, tag prefix, room, how many per "line" of the size
    "EC-IMM": ("Injection moulding machine, 80 t, all-electric", "IMM", "RM-MOULD", "1"),
    "EC-EXT": ("Medical tubing extrusion line, 30 mm single screw", "EXT", "RM-EXTR", "0.5"),
    "EC-UVB": ("UV-LED bonding station, 365 nm", "UVB", "RM-CR7A", "2"),
    "EC-LEAK": ("Pressure-decay leak tester", "LT", "RM-CR7A", "1"),
    "EC-SEAL": ("Rotary pouch sealer with UDI label print & apply", "SEAL", "RM-PACK", "1"),
    "EC-CASE": ("Case packer with SSCC label printer", "CP", "RM-PACK", "0.5"),
    "EC-EO": ("Ethylene oxide steriliser, 12 m3 chamber", "EO", "RM-EO", "0.5"),
    "EC-TENS": ("Tensile / pull tester", "TT", "RM-QCLAB", "0.34"),
    # QC laboratory instruments: every inspection result names the one it was measured with
    "EC-GAUGE": ("Luer taper gauge set (ISO 80369-20)", "LG", "RM-QCLAB", "0.34"),
    "EC-VIS": ("Illuminated 2x magnifier inspection station", "VIS", "RM-QCLAB", "0.34"),
    "EC-BAL": ("Analytical balance, 0.1 mg", "BAL", "RM-QCLAB", "0.34"),
    "EC-LASER": ("Bench laser micrometer", "LM", "RM-QCLAB", "0.34"),
    "EC-FLOW": ("Gravimetric flow-rate test rig", "FR", "RM-QCLAB", "0.34"),
    "EC-INC": ("Biological indicator incubator", "INC", "RM-QCLAB", "0.34"),
}

# -- parameters -----------------------------------------------------------------------------
BARREL = Param("BARREL-TEMP", "Barrel temperature (zone 3)", "Cel", 230, 220, 240, True, 1.6)
INJ = Param("INJ-PRESS", "Injection pressure", "MPa", 85, 70, 100, True, 2.5)
HOLD = Param("HOLD-TIME", "Holding pressure time", "s", 3.5, 3.0, 4.0, True, 0.06)
MTEMP = Param("MOULD-TEMP", "Mould temperature", "Cel", 40, 35, 45, False, 0.8)
CYCLE = Param("CYCLE-TIME", "Cycle time", "s", 12, 10.5, 13.5, False, 0.2)
MELT = Param("MELT-TEMP", "Melt temperature", "Cel", 195, 188, 202, True, 1.1)
SPEED = Param("LINE-SPEED", "Line speed", "m/min", 30, 27, 33, False, 0.4)
OD = Param("OD-INLINE", "Outer diameter (inline laser)", "mm", 1.10, 1.07, 1.13, True, 0.004)
BATH = Param("BATH-TEMP", "Cooling bath temperature", "Cel", 18, 15, 21, False, 0.5)
UV_V1 = Param("UV-DOSE", "UV dose, hub bond", "mJ/cm2", 2400, 1800, 3200, True, 90)
UV_V2 = Param("UV-DOSE", "UV dose, hub bond", "mJ/cm2", 2400, 2000, 3200, True, 90)
CURE = Param("CURE-TIME", "Cure time", "s", 8, 7, 9, True, 0.12)
UV_NDL = Param("UV-DOSE", "UV dose, needle bond", "mJ/cm2", 2000, 1600, 2800, True, 80)
CURE_NDL = Param("CURE-TIME", "Cure time", "s", 6, 5, 7, True, 0.1)
LEAKP = Param("TEST-PRESS", "Test pressure", "kPa", 300, 290, 310, False, 1.2)
SEALT = Param("SEAL-TEMP", "Seal temperature", "Cel", 150, 145, 155, True, 0.7)
DWELL = Param("SEAL-DWELL", "Seal dwell time", "s", 1.2, 1.0, 1.4, True, 0.02)
SEALP = Param("SEAL-PRESS", "Seal pressure", "MPa", 0.40, 0.35, 0.45, True, 0.006)
EOT = Param("EO-TEMP", "Chamber temperature", "Cel", 50, 46, 54, True, 0.6)
EORH = Param("EO-RH", "Relative humidity (conditioning)", "%", 60, 45, 75, True, 2.5)
EOC = Param("EO-CONC", "EO gas concentration", "mg/L", 600, 500, 700, True, 12)
EOX = Param("EO-EXPOSURE", "Exposure time", "h", 4.2, 4.0, 5.0, True, 0.03)

# -- inspection characteristics ----------------------------------------------------------------
CHARACTERISTICS: dict[str, tuple[str, str, str]] = {  # method → name, standard, instrument class
    "M-GAUGE": ("Luer gauge fit test", "ISO 80369-20", "EC-GAUGE"),
    "M-VISUAL": ("Visual inspection under 2x magnification", "SOP-QC-004", "EC-VIS"),
    "M-WEIGH": ("Part weight on analytical balance", "SOP-QC-006", "EC-BAL"),
    "M-LASER": ("Laser micrometer diameter measurement", "SOP-QC-007", "EC-LASER"),
    "M-PULL": ("Tensile pull test", "ISO 10555-1 Annex F", "EC-TENS"),
    "M-LEAK": ("Pressure-decay leak test", "ISO 10555-1 Annex C", "EC-LEAK"),
    "M-FLOW": ("Gravimetric flow-rate test", "ISO 8536-4", "EC-FLOW"),
    "M-BI": ("Biological indicator incubation (G. stearothermophilus / B. atrophaeus)",
             "ISO 11135", "EC-INC"),
}
C_GAUGE = Char("LUER-FIT", "Luer taper fit", "M-GAUGE", sample=32)
C_FLASH = Char("FLASH", "Flash / short shots", "M-VISUAL", sample=80)
C_WEIGHT = Char("PART-WEIGHT", "Part weight", "M-WEIGH", "g", 1.15, 1.25, 1.20, 0.008, 10)
C_ODX = Char("OD", "Outer diameter", "M-LASER", "mm", 1.07, 1.13, 1.10, 0.005, 10)
C_IDX = Char("ID", "Inner diameter", "M-LASER", "mm", 0.77, 0.83, 0.80, 0.005, 10)
C_TENS = Char("TENSILE", "Tubing break force", "M-PULL", "N", 10, None, 18, 1.2, 5)
C_LEAK = Char("LEAK", "Leak (pressure decay)", "M-LEAK", "Pa", None, 50, 12, 5, 20)
C_VIS = Char("VISUAL", "Visual defects", "M-VISUAL", sample=50)
C_PULL = Char("HUB-PULL", "Hub-to-catheter pull force", "M-PULL", "N", 15, None, 32, 2.5, 8)
C_FLOW = Char("FLOW-RATE", "Gravity flow rate", "M-FLOW", "mL/min", 20, None, 28, 1.5, 5)
C_BI = Char("BI-STERILITY", "Biological indicator growth", "M-BI", sample=10)

_ASSY_COMMON_TAIL = (
    OpDef(50, "Pouch sealing and UDI labelling", "EC-SEAL", "Q-SEAL", (1.5, 2.5),
          (SEALT, DWELL, SEALP), bom=(("POUCH-T", 1), ("LABEL-UDI", 1))),
    OpDef(60, "Case packing (SSCC)", "EC-CASE", "Q-PACK", (0.5, 1.0),
          bom=(("CASE-50", 1 / UNITS_PER_CASE),)),
    OpDef(70, "EO sterilisation (in shipper case)", "EC-EO", "Q-EO", (30, 34),
          (EOT, EORH, EOC, EOX), (C_BI,)),
)


def _cath_ops(uv: Param, chars: tuple[Char, ...]) -> tuple[OpDef, ...]:
    return (
        OpDef(10, "Component kitting and line clearance", None, "Q-CLEANROOM", (0.3, 0.6)),
        OpDef(20, "Hub-to-catheter UV bonding", "EC-UVB", "Q-UVB", (2.0, 3.5), (uv, CURE),
              fixture=True, bom=(("CONN-LL", 1), ("TUBE-PU20", 0.05), ("ADH-UV", 0.012))),
        OpDef(30, "Needle assembly and UV bonding", "EC-UVB", "Q-UVB", (1.5, 2.5),
              (UV_NDL, CURE_NDL), fixture=True,
              bom=(("NDL-20G", 1), ("VENT-PLUG", 1), ("NDL-CAP", 1), ("ADH-UV", 0.008))),
        OpDef(40, "Leak and pull test", "EC-LEAK", "Q-LEAK", (1.0, 1.5), (LEAKP,), chars),
        *_ASSY_COMMON_TAIL,
    )


PROCESSES: dict[str, ProcessDef] = {p.code: p for p in (
    ProcessDef("CONN-MOULD", "Luer connector injection moulding", "CONN-LL", {
        "v1": ("Effective", -400, (
            OpDef(10, "Injection moulding (8-cavity)", "EC-IMM", "Q-IMM", (0, 0),
                  (BARREL, INJ, HOLD, MTEMP, CYCLE), fixture=True,
                  bom=(("PP-H350", 0.00122), ("MB-PINK", 0.00002))),
            OpDef(20, "In-process inspection", None, "Q-QC", (1.0, 2.0), (),
                  (C_GAUGE, C_FLASH, C_WEIGHT)),
        ))}),
    ProcessDef("TUBE-EXTR", "PU catheter tubing extrusion", "TUBE-PU20", {
        "v1": ("Effective", -400, (
            OpDef(10, "Tubing extrusion", "EC-EXT", "Q-EXT", (0, 0), (MELT, SPEED, OD, BATH),
                  bom=(("PU-80A", 0.00055),)),
            OpDef(20, "Reel cutting and tubing inspection", None, "Q-QC", (1.0, 1.5), (),
                  (C_ODX, C_IDX, C_TENS)),
        ))}),
    ProcessDef("CATH-ASSY", "IV catheter assembly, packaging and sterilisation", "CATH-IV20", {
        "v1": ("Superseded", -300, _cath_ops(UV_V1, (C_LEAK, C_VIS))),
        # v2 (CR-2026-0007): hub-bond UV dose LSL raised 1800 → 2000 mJ/cm2 and a hub pull
        # test; effective from day round(V2_AT * days) of the run (see plant_master.version_day)
        "v2": ("Effective", 0, _cath_ops(UV_V2, (C_LEAK, C_VIS, C_PULL))),
    }),
    ProcessDef("INFSET-ASSY", "Infusion set assembly, packaging and sterilisation", "INFSET-150", {
        "v1": ("Effective", -350, (
            OpDef(10, "Component kitting and line clearance", None, "Q-CLEANROOM", (0.3, 0.6)),
            OpDef(20, "Tubing-to-connector UV bonding", "EC-UVB", "Q-UVB", (2.0, 3.0),
                  (UV_NDL, CURE_NDL), fixture=True,
                  bom=(("CONN-LL", 1), ("PVC-TUBE-3", 1.52), ("ADH-UV", 0.015))),
            OpDef(30, "Spike, drip chamber and clamp assembly", "EC-UVB", "Q-UVB", (1.5, 2.5),
                  (UV_NDL, CURE_NDL), fixture=True,
                  bom=(("SPIKE-DC", 1), ("CLAMP-R", 1), ("ADH-UV", 0.01))),
            OpDef(40, "Leak and flow test", "EC-LEAK", "Q-LEAK", (1.0, 1.5), (LEAKP,),
                  (C_LEAK, C_FLOW, C_VIS)),
            *_ASSY_COMMON_TAIL,
        ))}),
)}

#: The day (offset from the plant's start) the CATH-ASSY v2 becomes effective, as a share of days.
V2_AT = 0.4
