"""Content of ``ontology/tracegraph.ttl`` and ``ontology/alignments/``: the conventions of
ontology/README.md that the derivation code relies on, the terms the rest of the code uses, labels
(English and Chinese), code lists and the alignments."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from rdflib import OWL, RDF, RDFS, SKOS, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

ROOT = Path(__file__).resolve().parents[2]
ONTOLOGY = ROOT / "ontology" / "tracegraph.ttl"
ALIGNMENTS = ROOT / "ontology" / "alignments"
TG = Namespace("https://w3id.org/tracegraph#")
# An open Namespace, not rdflib.XSD: pytest probes module attributes and a closed one warns.
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
PROV = Namespace("http://www.w3.org/ns/prov#")
XSD_RANGES = {XSD.string, XSD.boolean, XSD.integer, XSD.decimal, XSD.double, XSD.dateTime,
              XSD.date, XSD.anyURI}
ANNOTATIONS = {"keyProperty", "abstract", "domainIncludes", "rangeIncludes", "identifier",
               "edgeClass", "codeList"}

SEED_ZH = {
    "Routing": "工艺路线", "Operation": "工序", "BOMLine": "物料清单", "ParameterSpec": "工艺参数",
    "Equipment": "设备", "Fixture": "工夹具", "InspectionMethod": "检验方法", "Batch": "批次",
    "Deviation": "偏差", "CAPA": "纠正预防措施", "ChangeRequest": "变更",
    "ElectronicSignature": "电子签名", "AuditEvent": "审计追踪", "ReleaseDecision": "放行",
    "MaterialLot": "物料批次", "SerializedUnit": "序列号单元", "Product": "产品",
    "ProcessVersion": "工艺版本", "WorkOrder": "工单", "OperationExecution": "工序执行",
    "Consumption": "物料消耗", "InspectionResult": "检验结果", "Alarm": "报警", "Excursion": "超限",
    "Hold": "隔离", "Disposition": "处置", "RootCause": "根本原因", "Supplier": "供应商",
    "Customer": "客户", "Shipment": "发货",
}
REQUIRED_CLASSES = {
    "Product", "ProcessDefinition", "ProcessVersion", "Routing", "Operation", "BOMLine",
    "ParameterSpec", "InspectionPlan", "InspectionMethod", "InspectionCharacteristic", "Equipment",
    "EquipmentClass", "Fixture", "Calibration", "MaintenanceRecord", "Document", "Qualification",
    "Person", "User", "Role", "Site", "Area", "Room", "Supplier", "Material", "MaterialLot",
    "Batch", "Sublot", "SerializedUnit", "WorkOrder", "OperationExecution", "Consumption",
    "InspectionResult", "ParameterObservation", "Excursion", "Alarm", "Deviation", "Hold",
    "Disposition", "RootCause", "CAPA", "CAPAAction", "EffectivenessCheck", "ChangeRequest",
    "ImpactAssessment", "Approval", "ElectronicSignature", "AuditEvent", "ReleaseDecision",
    "PackagingAggregation", "Shipment", "Customer", "Record", "TraceableEntity", "Derivation",
}
IDENTIFIERS = {"lotNumber", "supplierLotNumber", "serialNumber", "gtin", "udiDI", "sscc",
               "equipmentTag", "code", "username", "shipmentNumber", "workOrderNumber",
               "recordNumber"}
DATATYPE_RANGES = {
    "name": XSD.string, "quantity": XSD.decimal, "unitCode": XSD.string,
    "setpoint": XSD.double, "lsl": XSD.double, "usl": XSD.double, "alertLow": XSD.double,
    "alertHigh": XSD.double, "actionLow": XSD.double, "actionHigh": XSD.double,
    "isCPP": XSD.boolean, "sequence": XSD.integer, "branch": XSD.string,
    "variantCondition": XSD.string, "effectiveFrom": XSD.dateTime, "effectiveTo": XSD.dateTime,
    "calibrationDue": XSD.dateTime, "performedAt": XSD.dateTime, "usageLimit": XSD.integer,
    "usageCount": XSD.integer, "expiryDate": XSD.date, "manufacturedAt": XSD.dateTime,
    "shippedAt": XSD.dateTime, "address": XSD.string, "country": XSD.string,
    "minValue": XSD.double, "maxValue": XSD.double, "meanValue": XSD.double,
    "sampleCount": XSD.integer, "measuredValue": XSD.double, "atTime": XSD.dateTime,
    "viaActivity": XSD.anyURI, "startedAtTime": XSD.dateTime, "endedAtTime": XSD.dateTime,
}
OBJECT_PROPERTIES = {
    "ofProduct", "ofMaterial", "suppliedBy", "runsProcessVersion", "forWorkOrder", "versionOf",
    "hasRouting", "hasOperation", "boundToOperation", "specOf", "inspectionPlanOf",
    "requiresEquipmentClass", "ofEquipmentClass", "requiresQualification", "executesOperation",
    "forBatch", "onEquipment", "usedFixture", "wasAssociatedWith", "consumedEntity", "intoBatch",
    "duringExecution", "shippedTo", "calibrates", "holds", "raisedBy", "hasQualification",
    "hasRole", "signs", "signedBy", "observes", "locatedIn", "wasDerivedFrom", "used",
    "wasGeneratedBy", "wasRevisionOf",
}
CODE_LISTS = {
    "versionStatus": {"Draft", "InReview", "Approved", "Effective", "Superseded", "Obsolete"},
    "batchStatus": {"Planned", "InProcess", "Completed", "OnHold", "Released", "Rejected"},
    "deviationState": {"Open", "Triaged", "Investigation", "CAPALinked", "EffectivenessVerified",
                       "Closed", "Archived"},
    "deviationGrade": {"minor", "major", "critical"},
    "holdState": {"Active", "Released", "Dispositioned"},
    "dispositionType": {"release", "rework", "scrap", "useAsIs", "returnToSupplier"},
    "signatureMeaning": {"authored", "reviewed", "approved", "verified", "released"},
    "inspectionOutcome": {"conforming", "nonconforming"},
    "derivationKind": {"consumption", "production", "split", "merge", "aggregation", "shipment",
                       "rework"},
    "roleName": {"operator", "engineer", "qc", "qa", "auditor", "admin"},
}
KEYS = {"MaterialLot": "lotNumber", "Batch": "lotNumber", "Sublot": "lotNumber",
        "SerializedUnit": "serialNumber", "Equipment": "equipmentTag", "Fixture": "equipmentTag",
        "ProcessVersion": "code", "OperationExecution": "code", "Consumption": "code",
        "User": "username", "Shipment": "shipmentNumber", "WorkOrder": "workOrderNumber",
        "PackagingAggregation": "sscc", "Deviation": "recordNumber"}


@functools.cache
def graph() -> Graph:
    return Graph().parse(ONTOLOGY, format="turtle")


def local(iri: Node) -> str:
    return str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def tg_classes() -> list[URIRef]:
    return sorted(c for c in graph().subjects(RDF.type, OWL.Class)
                  if isinstance(c, URIRef) and str(c).startswith(str(TG)))


def properties(*types: URIRef) -> list[URIRef]:
    types = types or (OWL.DatatypeProperty, OWL.ObjectProperty, OWL.AnnotationProperty)
    return sorted({p for t in types for p in graph().subjects(RDF.type, t)
                   if isinstance(p, URIRef)})


@functools.cache
def lineage(c: URIRef) -> tuple[URIRef, ...]:
    out = [c]
    for sup in graph().objects(c, RDFS.subClassOf):
        if isinstance(sup, URIRef):
            out += [x for x in lineage(sup) if x not in out]
    return tuple(out)


def is_abstract(c: URIRef) -> bool:
    return graph().value(c, TG.abstract) == Literal(True)


def ranges(p: URIRef) -> list[Node]:
    return [*graph().objects(p, RDFS.range), *graph().objects(p, TG.rangeIncludes)]


def domains(p: URIRef) -> set[Node]:
    return {*graph().objects(p, RDFS.domain), *graph().objects(p, TG.domainIncludes)}


def allowed_on(p: URIRef, c: URIRef) -> bool:
    return bool(domains(p) & set(lineage(c)))


def labels(s: URIRef, lang: str) -> list[str]:
    return [str(v) for v in graph().objects(s, RDFS.label)
            if isinstance(v, Literal) and v.language == lang]


# ------------------------------------------------------------------------------------ labels
def test_ontology_header() -> None:
    onto = next(graph().subjects(RDF.type, OWL.Ontology))
    assert graph().value(onto, OWL.versionInfo) is not None
    assert not list(graph().objects(None, OWL.imports)), "align, don't import"


def test_every_tg_class_and_property_has_english_label_and_comment() -> None:
    terms = tg_classes() + [p for p in properties() if str(p).startswith(str(TG))]
    for t in terms:
        assert labels(t, "en"), f"{t} has no rdfs:label@en"
        comments = [c for c in graph().objects(t, RDFS.comment)
                    if isinstance(c, Literal) and c.language == "en" and str(c).strip()]
        assert comments, f"{t} has no rdfs:comment@en"


def test_reused_properties_are_labelled_too() -> None:
    for p in properties(OWL.DatatypeProperty, OWL.ObjectProperty):
        assert labels(p, "en"), p


@pytest.mark.parametrize(("name", "zh"), sorted(SEED_ZH.items()))
def test_seed_terms_have_chinese_labels(name: str, zh: str) -> None:
    assert zh in labels(TG[name], "zh")


def test_every_class_has_a_chinese_label() -> None:
    for c in tg_classes():
        assert labels(c, "zh"), c


# ------------------------------------------------------------------------------------ classes
def test_required_classes_are_declared() -> None:
    assert {local(c) for c in tg_classes()} >= REQUIRED_CLASSES


def test_every_stored_class_is_a_record() -> None:
    edge_classes = set(graph().objects(None, TG.edgeClass))
    for c in tg_classes():
        if c in edge_classes:
            assert is_abstract(c), f"edge class {c} is never stored as a node"
            continue
        assert TG.Record in lineage(c), f"{c} is not rdfs:subClassOf* tg:Record"


def test_traceable_entities_and_genealogy_edge() -> None:
    g = graph()
    assert (TG.TraceableEntity, RDFS.subClassOf, PROV.Entity) in g
    assert (TG.Derivation, RDFS.subClassOf, PROV.Derivation) in g
    assert is_abstract(TG.Derivation) and g.value(TG.Derivation, TG.keyProperty) is None
    for name in ("MaterialLot", "Batch", "Sublot", "SerializedUnit", "PackagingAggregation",
                 "Shipment"):
        assert TG.TraceableEntity in lineage(TG[name]), name
    assert TG.Batch not in lineage(TG.Sublot), "a sublot is not a batch"
    assert TG.Person in lineage(TG.User)
    wdf = PROV.wasDerivedFrom
    assert set(g.objects(wdf, TG.domainIncludes)) == {TG.TraceableEntity}
    assert set(g.objects(wdf, TG.rangeIncludes)) == {TG.TraceableEntity}
    assert g.value(wdf, TG.edgeClass) == TG.Derivation
    edge_props = {local(p) for p in properties(OWL.DatatypeProperty)
                  if allowed_on(p, TG.Derivation)}
    assert {"derivationKind", "quantity", "unitCode", "atTime", "viaActivity"} <= edge_props


def key_of(c: URIRef) -> URIRef | None:
    for x in lineage(c):
        k = graph().value(x, TG.keyProperty)
        if isinstance(k, URIRef):
            return k
    return None


def test_every_concrete_class_has_an_allowed_datatype_key() -> None:
    for c in tg_classes():
        if is_abstract(c):
            continue
        k = key_of(c)
        assert k is not None, f"{c} has no tg:keyProperty (own or inherited)"
        assert (k, RDF.type, OWL.DatatypeProperty) in graph(), f"{c}: key {k} is not data"
        assert allowed_on(k, c), f"{c}: key {k} is not allowed on it"
        assert graph().value(k, TG.identifier) == Literal(True), f"{c}: key {k} is not indexed"


@pytest.mark.parametrize(("cls", "key"), sorted(KEYS.items()))
def test_business_keys(cls: str, key: str) -> None:
    assert key_of(TG[cls]) == TG[key]


# ------------------------------------------------------------------------------------ properties
def test_property_local_names_are_unique() -> None:
    seen: dict[str, URIRef] = {}
    for p in properties():
        name = local(p)
        assert name not in seen, f"{p} and {seen[name]} share the local name {name!r}"
        seen[name] = p


def test_annotation_properties_are_declared() -> None:
    declared = {local(p) for p in properties(OWL.AnnotationProperty)
                if str(p).startswith(str(TG))}
    assert declared >= ANNOTATIONS


def test_each_datatype_property_has_exactly_one_xsd_range() -> None:
    for p in properties(OWL.DatatypeProperty):
        r = ranges(p)
        assert len(r) == 1 and r[0] in XSD_RANGES, f"{p}: ranges {r}"


def test_each_object_property_has_exactly_one_tg_range_class() -> None:
    classes = set(tg_classes())
    for p in properties(OWL.ObjectProperty):
        r = ranges(p)
        assert len(r) == 1 and r[0] in classes, f"{p}: ranges {r}"


def test_domains_follow_the_conventions() -> None:
    g, classes = graph(), set(tg_classes())
    for p in properties(OWL.DatatypeProperty, OWL.ObjectProperty):
        own = str(p).startswith(str(TG))
        doms = list(g.objects(p, RDFS.domain))
        incl = list(g.objects(p, TG.domainIncludes))
        if own:
            assert len(doms) + (1 if incl else 0) == 1, f"{p}: one rdfs:domain or domainIncludes"
            assert not list(g.objects(p, TG.rangeIncludes)), f"{p}: own properties use rdfs:range"
        else:
            assert not doms and not list(g.objects(p, RDFS.range)), \
                f"{p}: never assert rdfs:domain/rdfs:range on IRIs that are not ours"
            assert incl, f"{p}: reused properties need tg:domainIncludes"
        assert set(doms) | set(incl) <= classes, p


@pytest.mark.parametrize(("name", "rng"), sorted(DATATYPE_RANGES.items()))
def test_required_datatype_properties(name: str, rng: URIRef) -> None:
    matches = [p for p in properties(OWL.DatatypeProperty) if local(p) == name]
    assert len(matches) == 1, name
    assert ranges(matches[0]) == [rng]


def test_required_object_properties() -> None:
    declared = {local(p) for p in properties(OWL.ObjectProperty)}
    assert declared >= OBJECT_PROPERTIES, OBJECT_PROPERTIES - declared


def test_identifiers_are_indexed_strings() -> None:
    for name in IDENTIFIERS:
        p = TG[name]
        assert graph().value(p, TG.identifier) == Literal(True), name
        assert ranges(p) == [XSD.string], name


# ------------------------------------------------------------------------------------ code lists
def notations(scheme: Node) -> list[str]:
    g = graph()
    return [str(n) for c in g.subjects(SKOS.inScheme, scheme) for n in g.objects(c, SKOS.notation)]


def test_code_lists_are_skos_schemes_of_notations() -> None:
    g = graph()
    for p, scheme in g.subject_objects(TG.codeList):
        assert (scheme, RDF.type, SKOS.ConceptScheme) in g, scheme
        assert ranges(p) == [XSD.string], p  # type: ignore[arg-type]  # tg:codeList subjects are property IRIs
        values = notations(scheme)
        assert values and len(values) == len(set(values)), scheme
        for c in g.subjects(SKOS.inScheme, scheme):
            assert (c, RDF.type, SKOS.Concept) in g
            assert len(list(g.objects(c, SKOS.notation))) == 1, c
            assert any(isinstance(x, Literal) and x.language == "en"
                       for x in g.objects(c, SKOS.prefLabel)), c


@pytest.mark.parametrize(("prop", "values"), sorted(CODE_LISTS.items()))
def test_required_code_lists(prop: str, values: set[str]) -> None:
    scheme = graph().value(TG[prop], TG.codeList)
    assert scheme is not None, prop
    assert set(notations(scheme)) == values


def test_capa_change_and_calibration_states_have_code_lists() -> None:
    for prop in ("capaState", "changeState", "calibrationStatus"):
        scheme = graph().value(TG[prop], TG.codeList)
        assert scheme is not None and notations(scheme), prop


# ------------------------------------------------------------------------------------ alignments
ALIGNMENT_FILES = sorted(ALIGNMENTS.glob("*.ttl"))


def test_the_standard_alignments_exist() -> None:
    names = {f.name for f in ALIGNMENT_FILES}
    assert {"isa95.ttl", "isa88.ttl", "iof.ttl", "epcis-cbv.ttl"} <= names


@pytest.mark.parametrize("path", ALIGNMENT_FILES, ids=lambda p: p.name)
def test_alignment_parses_and_references_only_existing_tg_terms(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Alignment of tracegraph to"), "header naming the source standard"
    g = Graph().parse(path, format="turtle")
    assert not list(g.objects(None, OWL.imports)), "align, don't import"
    known = set(graph().subjects())
    used = {t for triple in g for t in triple
            if isinstance(t, URIRef) and str(t).startswith(str(TG))}
    assert used, f"{path.name} maps nothing"
    assert used <= known, f"{path.name} references unknown terms {sorted(used - known)}"
    mapping = {RDFS.subClassOf, RDFS.subPropertyOf, OWL.equivalentProperty, OWL.equivalentClass,
               SKOS.closeMatch, SKOS.exactMatch, SKOS.relatedMatch, SKOS.broadMatch,
               SKOS.narrowMatch, RDFS.seeAlso}
    for s, p, o in g:
        if str(s).startswith(str(TG)):
            assert p in mapping, f"{path.name}: {p} is not a mapping property"
            assert not str(o).startswith(str(TG)), f"{path.name}: maps {s} to our own {o}"
