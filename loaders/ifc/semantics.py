"""Identity and meaning of every element, and the spatial tree (runs in the worker process).

One row per product that carries body geometry: GlobalId, class, name, type, storey,
facility, materials and distribution systems.  Containers are resolved once each and
shared by the elements inside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: classes of spatial structure that are facilities (a building or its IFC 4.3 siblings)
FACILITIES = ("IfcBuilding", "IfcBridge", "IfcRoad", "IfcRailway", "IfcTunnel", "IfcMarineFacility", "IfcFacility")
#: levels within a facility
LEVELS = ("IfcBuildingStorey", "IfcFacilityPart")
BODY_IDENTIFIERS = ("Body", "Facetation")
SPATIAL = ("IfcSpatialElement", "IfcSpatialStructureElement")
COLUMNS = ("guid", "ifc_class", "name", "object_type", "storey", "building", "type_name", "material",
           "network", "system_type")


def has_body(product) -> bool:
    """Whether a product has a 3D body representation the iterator would mesh."""
    shape = getattr(product, "Representation", None)
    if shape is None or not shape.is_a("IfcProductDefinitionShape"):
        return False
    for rep in shape.Representations or ():
        identifier = rep.RepresentationIdentifier
        if identifier in BODY_IDENTIFIERS:
            return True
        context = rep.ContextOfItems
        if identifier is None and getattr(context, "ContextType", None) == "Model" and rep.Items:
            return True
    return False


def candidates(model, spaces: bool) -> list:
    """Every product the loader wants as an asset: body geometry, not an opening."""
    out = []
    for product in model.by_type("IfcProduct"):
        if product.is_a("IfcOpeningElement") or (not spaces and product.is_a("IfcSpace")):
            continue
        if has_body(product):
            out.append(product)
    return out


def _is_any(entity, classes: tuple[str, ...]) -> bool:
    for name in classes:
        try:
            if entity.is_a(name):
                return True
        except RuntimeError:  # the class does not exist in this schema
            continue
    return False


class _Spatial:
    """Resolves and memoises each container's storey and facility."""

    def __init__(self) -> None:
        self.memo: dict[int, tuple[str, str]] = {}

    def levels(self, container) -> tuple[str, str]:
        import ifcopenshell.util.element as ue

        if container is None:
            return "", ""
        key = container.id()
        if key not in self.memo:
            storey = facility = ""
            node = container
            while node is not None:
                if not storey and _is_any(node, LEVELS):
                    storey = text(node.Name or node.GlobalId)
                if not facility and _is_any(node, FACILITIES):
                    facility = text(node.Name or node.GlobalId)
                node = ue.get_aggregate(node)
            self.memo[key] = (storey, facility)
        return self.memo[key]


def text(value) -> str:
    """An IFC string, with UTF-8 that an exporter wrote twice (``HulevesiviemÃ¤ri``) repaired."""
    value = "" if value is None else str(value)
    if any(c in value for c in "ÃÂÅ") and max(map(ord, value)) < 256:
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return value
    return value


def _materials(element) -> str:
    import ifcopenshell.util.element as ue

    try:
        names = [text(m.Name) for m in ue.get_materials(element) if getattr(m, "Name", None)]
    except Exception:  # a malformed material assignment must not lose the element
        return ""
    return "; ".join(dict.fromkeys(names))


def _systems(element) -> tuple[str, str]:
    import ifcopenshell.util.system as us

    try:
        systems = us.get_element_systems(element)
    except Exception:
        return "", ""
    names = "; ".join(dict.fromkeys(text(s.Name or s.GlobalId) for s in systems))
    kinds = (str(getattr(s, "PredefinedType", None) or s.ObjectType or "") for s in systems)
    return names, "; ".join(dict.fromkeys(k for k in kinds if k))


def rows(products: list) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns of text per product, and their step ids (sorted for lookup by the parent)."""
    import ifcopenshell.util.element as ue

    spatial = _Spatial()
    columns: dict[str, list[str]] = {c: [] for c in COLUMNS}
    steps = []
    for product in products:
        element_type = ue.get_type(product)
        storey, facility = spatial.levels(ue.get_container(product) or ue.get_aggregate(product))
        network, system_type = _systems(product)
        values = (product.GlobalId, product.is_a(), text(product.Name),
                  text(getattr(product, "ObjectType", None) or ue.get_predefined_type(product)),
                  storey, facility, text(element_type.Name) if element_type else "", _materials(product),
                  network, system_type)
        for column, value in zip(COLUMNS, values):
            columns[column].append(str(value))
        steps.append(product.id())
    steps_array = np.asarray(steps, dtype=np.int64)
    order = np.argsort(steps_array, kind="stable")
    return {c: np.asarray(v, dtype=str)[order] if v else np.empty(0, dtype=str) for c, v in columns.items()}, \
        steps_array[order]


def spatial_tree(model, assets: set[int]) -> dict[str, Any] | None:
    """Project -> Site -> Building -> Storey -> Space as nested dicts, with element ids and counts.

    ``elements`` lists the GlobalIds of the assets directly in a node; ``counts`` totals the
    assets per class in the node and everything below it.
    """
    import ifcopenshell.util.element as ue

    projects = model.by_type("IfcProject")
    if not projects:
        return None

    def node(entity) -> dict[str, Any]:
        children = [node(child) for rel in getattr(entity, "IsDecomposedBy", ()) or ()
                    for child in rel.RelatedObjects if _is_any(child, SPATIAL)]
        contained = [e for rel in getattr(entity, "ContainsElements", ()) or () for e in rel.RelatedElements]
        contained += [p for e in list(contained) for p in ue.get_parts(e) or ()]
        elements = [e for e in contained if e.id() in assets]
        if entity.id() in assets:
            elements.append(entity)
        counts: dict[str, int] = {}
        for e in elements:
            counts[e.is_a()] = counts.get(e.is_a(), 0) + 1
        for child in children:
            for cls, n in child["counts"].items():
                counts[cls] = counts.get(cls, 0) + n
        return {"id": entity.GlobalId, "class": entity.is_a(), "name": text(entity.Name),
                "elevation": getattr(entity, "Elevation", None), "children": children,
                "elements": [e.GlobalId for e in elements], "counts": dict(sorted(counts.items())),
                "total": sum(counts.values())}

    return node(projects[0])
