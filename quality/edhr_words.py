"""The eDHR's words in English or Chinese (issue 15 item 4): section titles, column headings,
code values, class names, times and the page furniture of :func:`quality.edhr.render_html`.

Where the ontology names a thing, its label is the word — a heading that is an ontology property
(``deviationState`` → 偏差状态), a section that lists one class (Deviations → 偏差), a code value
(``Released`` → 已放行), a record's class — read from the loaded vocabulary and the generated
code lists (``ontology/codes.py``), never copied here. This module holds only the record's own
words (``quantityMade``, "Materials and lots", "page n of m") and their Chinese. Times are shown
in the plant's time zone (:func:`quality.signatures.human_time`).
"""

# ruff: noqa: RUF001  (the Chinese words use full-width Chinese punctuation)

from __future__ import annotations

import re
from dataclasses import dataclass

from ontology.codes import CODE_LISTS, LABELS
from ontology.vocab import vocabulary
from quality.signatures import human_time

__all__ = ["LANGUAGES", "Words", "heading"]

LANGUAGES = ("en", "zh")

#: headings people read for the record's field names (others: camelCase split into words)
_HEADINGS = {"iri": "IRI", "gtin": "GTIN", "udi": "UDI", "udiDI": "UDI-DI", "di": "DI",
             "humanReadable": "UDI (human readable)", "at": "Time", "lsl": "LSL", "usl": "USL",
             "ok": "OK", "sd": "SD", "n": "n"}

#: the record's own field names (no ontology property has them) in Chinese
_ZH_HEADINGS = {
    "iri": "IRI", "key": "编号", "class": "类别", "status": "状态", "quantityPlanned": "计划数量",
    "quantityMade": "生产数量", "unit": "单位", "unitsSerialized": "序列号单元数",
    "quantityReleased": "放行数量", "startedAt": "开始时间", "completedAt": "完成时间",
    "endedAt": "结束时间", "workOrder": "工单", "migrated": "迁移记录", "lot": "批号",
    "material": "物料", "materialName": "物料名称", "supplier": "供应商",
    "supplierLot": "供应商批号", "at": "时间", "kind": "类型", "execution": "工序执行",
    "operation": "工序", "scrap": "报废数量", "equipment": "设备", "fixture": "工夹具",
    "operator": "操作员", "username": "用户名", "spec": "参数规格", "parameter": "参数",
    "cpp": "关键工艺参数", "min": "最小值", "max": "最大值", "mean": "平均值",
    "withinSpec": "符合规格", "samplesFrom": "采样开始", "samplesTo": "采样结束",
    "result": "检验结果", "instrument": "测量器具", "excursion": "超限", "excursions": "超限",
    "room": "房间", "samples": "样本数", "rule": "规则", "focus": "对象", "field": "字段",
    "value": "值", "message": "说明", "udi": "UDI", "di": "DI", "humanReadable": "UDI（人可读）",
    "serial": "序列号", "batch": "批次", "product": "产品", "document": "文件",
    "ok": "合格", "sd": "标准差", "n": "n",
}

#: section id → (English title, the ontology class it lists, or the Chinese title)
_SECTIONS: dict[str, tuple[str, str]] = {
    "batch": ("Batch", "Batch"), "unit": ("Unit", "SerializedUnit"), "udi": ("UDI", "UDI"),
    "product": ("Product", "Product"), "process-version": ("Process version", "ProcessVersion"),
    "materials": ("Materials and lots", "物料和批次"),
    "operations": ("Operations", "OperationExecution"),
    "documents": ("Documents executed under", "执行依据的文件"),
    "equipment": ("Equipment", "Equipment"), "fixtures": ("Fixtures", "Fixture"),
    "operators": ("Operators", "操作员"), "parameters": ("Parameters", "工艺参数"),
    "environment": ("Room conditions", "环境条件"), "excursions": ("Excursions", "Excursion"),
    "inspections": ("Inspections", "InspectionResult"),
    "deviations": ("Deviations", "Deviation"), "holds": ("Holds", "Hold"),
    "dispositions": ("Dispositions", "Disposition"), "release": ("Release", "ReleaseDecision"),
    "exceptions": ("Open exceptions", "未关闭的异常"),
    "signatures": ("Signatures", "ElectronicSignature"),
}

#: the page's own phrases: (English, Chinese); {0}, {1} are filled in
_PHRASES: dict[str, tuple[str, str]] = {
    "title.unit": ("Device history record — unit {0}", "器械历史记录 — 单元 {0}"),
    "title.batch": ("Device history record — batch {0}", "器械历史记录 — 批次 {0}"),
    "of-batch": (" · batch {0}", " · 批次 {0}"),
    "product": (" · product {0} {1}", " · 产品 {0} {1}"),
    "footer": ("tracegraph {0} · record watermark {1}", "tracegraph {0} · 记录水位 {1}"),
    "as-of": (" · as known at {0}", " · 截至记录时间 {0}"),
    "basis": ("21 CFR 820.184 / ISO 13485 §7.5.1 — generated from the tracegraph record; "
              "format {0}.",
              "21 CFR 820.184 / ISO 13485 §7.5.1 — 由 tracegraph 记录生成；格式 {0}。"),
    "times": ("Times in {0}.", "时间为 {0} 时区。"),
    "migrated": ("Migrated records (their states came from a legacy system through a signed "
                 "migration, not through the workflow commands): ",
                 "迁移记录（其状态经签名的迁移来自原有系统，而非工作流命令）："),
    "none-recorded": ("None recorded.", "无记录。"), "none": ("None.", "无。"),
    "yes": ("yes", "是"), "no": ("no", "否"),
    "sig.record": ("Record", "记录"),
    "sig.line": ("Signature (printed name, user, date and time, meaning)",
                 "签名（姓名、用户、日期时间、含义）"),
    "sig.status": ("Status", "状态"), "sig.valid": ("valid", "有效"),
    "sig.invalid": ("INVALID (record changed after signing)", "无效（签名后记录被修改）"),
    "page": ('"page " counter(page) " of " counter(pages)',
             '"第 " counter(page) " 页，共 " counter(pages) " 页"'),
}

#: fields whose name is not the property holding their code list, per section
_CODED = {("batch", "status"): "batchStatus", ("operations", "status"): "executionStatus",
          ("materials", "kind"): "derivationKind", ("signatures", "meaning"): "signatureMeaning"}
_CLASS_FIELDS = frozenset({"class", "recordClass"})


def heading(name: str) -> str:
    """A record's field name as an English column heading.

    >>> [heading(n) for n in ("materialName", "udiDI", "supplierLot", "quantityMade")]
    ['Material name', 'UDI-DI', 'Supplier lot', 'Quantity made']
    """
    if name in _HEADINGS:
        return _HEADINGS[name]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split(" ")
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Words:
    """The eDHR's words in ``lang`` (``en`` or ``zh``), times in time zone ``tz``."""

    lang: str = "en"
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise ValueError(f"language {self.lang!r}: use en or zh")

    @property
    def zh(self) -> bool:
        return self.lang == "zh"

    def phrase(self, key: str, *args: object) -> str:
        en, zh = _PHRASES[key]
        return (zh if self.zh else en).format(*args)

    def title(self, section: str) -> str:
        en, other = _SECTIONS[section]
        if not self.zh:
            return en
        return self.cls(other) if other in vocabulary().classes else other

    def heading(self, field: str) -> str:
        if not self.zh:
            return heading(field)
        p = vocabulary().properties.get(field)
        if field not in _ZH_HEADINGS and p is not None and p.label_zh:
            return p.label_zh
        return _ZH_HEADINGS.get(field) or heading(field)

    def cls(self, name: str) -> str:
        """A class by its label (Chinese), or its name (English, as stored)."""
        c = vocabulary().classes.get(name)
        return c.label_zh if self.zh and c is not None and c.label_zh else name

    def coded(self, section: str, field: str) -> bool:
        return _CODED.get((section, field), field) in CODE_LISTS or field in _CLASS_FIELDS

    def code(self, section: str, field: str, value: str) -> str:
        """A code value by its Chinese label (English: the code as stored), a class by its
        label."""
        if field in _CLASS_FIELDS:
            return self.cls(value)
        scheme = CODE_LISTS.get(_CODED.get((section, field), field))
        if not self.zh or scheme is None:
            return value
        en_zh = LABELS[scheme].get(value)
        return en_zh[1] if en_zh and en_zh[1] else value

    def time(self, text: str) -> str:
        return human_time(text, self.tz)
