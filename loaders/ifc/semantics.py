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
#: where each kind of material definition keeps its materials
MATERIAL_PARTS = {
    "IfcMaterialLayerSetUsage": ("ForLayerSet",),
    "IfcMaterialLayerSet": ("MaterialLayers",),
    "IfcMaterialLayer": ("Material",),
    "IfcMaterialLayerWithOffsets": ("Material",),
    "IfcMaterialProfileSetUsage": ("ForProfileSet",),
    "IfcMaterialProfileSetUsageTapering": ("ForProfileSet",),
    "IfcMaterialProfileSet": ("MaterialProfiles",),
    "IfcMaterialProfile": ("Material",),
    "IfcMaterialProfileWithOffsets": ("Material",),
    "IfcMaterialConstituentSet": ("MaterialConstituents",),
    "IfcMaterialConstituent": ("Material",),
    "IfcMaterialList": ("Materials",),
}
BODY_IDENTIFIERS = ("Body", "Facetation")
SPATIAL = ("IfcSpatialElement", "IfcSpatialStructureElement")
#: the text columns of the rows, in the order :func:`rows` fills them
COLUMNS = (
    "guid",
    "ifc_class",
    "name",
    "object_type",
    "storey",
    "building",
    "type_name",
    "material",
    "network",
    "system_type",
)


_ATTRIBUTES: dict[str, frozenset[str]] = {}


def attr(entity: Any, name: str, default: Any = None) -> Any:
    """``getattr`` that asks the class's attribute names first: ifcopenshell needs ~85 us to say
    an attribute is absent (an exception via its derived-attribute rules), ~13 us to return one."""
    cls = entity.is_a()
    names = _ATTRIBUTES.get(cls)
    if names is None:
        names = _ATTRIBUTES[cls] = frozenset(entity.get_attribute_names()) | frozenset(
            entity.get_inverse_attribute_names()
        )
    if name not in names:
        return default
    value = getattr(entity, name)
    return default if value is None else value


def has_body(product: Any) -> bool:
    """Whether a product has a 3D body representation the iterator would mesh."""
    shape = attr(product, "Representation")
    if shape is None or not shape.is_a("IfcProductDefinitionShape"):
        return False
    for rep in shape.Representations or ():
        identifier = rep.RepresentationIdentifier
        if identifier in BODY_IDENTIFIERS:
            return True
        context = rep.ContextOfItems
        if identifier is None and attr(context, "ContextType") == "Model" and rep.Items:
            return True
    return False


def shaped_products(model: Any, spaces: bool) -> list[Any]:
    """Every product that may get geometry: it has a representation and is not an opening."""
    return [
        product
        for product in model.by_type("IfcProduct")
        if product.Representation is not None
        and not product.is_a("IfcOpeningElement")
        and (spaces or not product.is_a("IfcSpace"))
    ]


def _is_any(entity: Any, classes: tuple[str, ...]) -> bool:
    """Whether the entity is of any of the classes (a class the schema lacks is simply no match)."""
    return any(entity.is_a(name) for name in classes)


class Relations:
    """Every relationship the rows need, read once: a dict lookup per element, not a model query."""

    def __init__(self, model: Any) -> None:
        self.container: dict[int, Any] = {}
        self.parent: dict[int, Any] = {}
        self.type: dict[int, Any] = {}
        self.material: dict[int, Any] = {}
        self.systems: dict[int, list[Any]] = {}
        for rel in model.by_type("IfcRelContainedInSpatialStructure"):
            for element in rel.RelatedElements or ():
                self.container[element.id()] = rel.RelatingStructure
        for rel in model.by_type("IfcRelAggregates"):
            for element in rel.RelatedObjects or ():
                self.parent[element.id()] = rel.RelatingObject
        for rel in model.by_type("IfcRelDefinesByType"):
            for element in rel.RelatedObjects or ():
                self.type[element.id()] = rel.RelatingType
        for rel in model.by_type("IfcRelAssociatesMaterial"):
            for element in rel.RelatedObjects or ():
                self.material[element.id()] = rel.RelatingMaterial
        for rel in model.by_type("IfcRelAssignsToGroup"):
            group = rel.RelatingGroup
            if group is not None and group.is_a("IfcSystem") and not group.is_a("IfcZone"):
                for element in rel.RelatedObjects or ():
                    self.systems.setdefault(element.id(), []).append(group)
        self._levels: dict[int, tuple[str, str]] = {}
        self._material_names: dict[int, str] = {}

    def spatial_parent(self, entity: Any) -> Any:
        """The container of an element, or what an element or spatial node is a part of."""
        key = entity.id()
        return self.container.get(key) or self.parent.get(key)

    def levels(self, product: Any) -> tuple[str, str]:
        """(storey, facility) names of a product, memoised per container."""
        container = self.spatial_parent(product)
        while container is not None and not _is_any(container, SPATIAL):
            container = self.spatial_parent(container)  # a part of an assembly: its assembly's place
        if container is None:
            return "", ""
        key = container.id()
        if key not in self._levels:
            storey = facility = ""
            node = container
            while node is not None:
                if not storey and _is_any(node, LEVELS):
                    storey = text(node.Name or node.GlobalId)
                if not facility and _is_any(node, FACILITIES):
                    facility = text(node.Name or node.GlobalId)
                node = self.parent.get(node.id())
            self._levels[key] = (storey, facility)
        return self._levels[key]

    def materials(self, product: Any) -> str:
        """Names of the product's materials (or its type's), memoised per material definition."""
        definition = self.material.get(product.id())
        if definition is None and product.id() in self.type:
            definition = self.material.get(self.type[product.id()].id())
        if definition is None:
            return ""
        key = definition.id()
        if key not in self._material_names:
            self._material_names[key] = _material_names(definition)
        return self._material_names[key]

    def system_columns(self, product: Any) -> tuple[str, str]:
        systems = self.systems.get(product.id(), [])
        names = "; ".join(dict.fromkeys(text(s.Name or s.GlobalId) for s in systems))
        kinds = (str(attr(s, "PredefinedType") or attr(s, "ObjectType") or "") for s in systems)
        return names, "; ".join(dict.fromkeys(k for k in kinds if k))


def text(value: Any) -> str:
    """An IFC string, with UTF-8 that an exporter wrote twice (``HulevesiviemÃ¤ri``) repaired."""
    value = "" if value is None else str(value)
    if any(c in value for c in "ÃÂÅ") and max(map(ord, value)) < 256:
        try:
            return str(value.encode("latin-1").decode("utf-8"))
        except UnicodeError:
            return str(value)
    return str(value)


def _material_names(definition: Any) -> str:
    """Names of the materials inside any IfcMaterialSelect (layers, profiles, constituents, lists)."""
    pending, names = [definition], []
    while pending:
        item = pending.pop(0)
        if item is None:
            continue
        if item.is_a("IfcMaterial"):
            names.append(text(item.Name))
            continue
        for attribute in MATERIAL_PARTS.get(item.is_a(), ()):
            value = attr(item, attribute)
            pending.extend(value if isinstance(value, (list, tuple)) else [value])
    return "; ".join(dict.fromkeys(n for n in names if n))


def _object_type(product: Any) -> str:
    predefined = attr(product, "PredefinedType")
    object_type = attr(product, "ObjectType")
    if object_type and (predefined in (None, "USERDEFINED", "NOTDEFINED")):
        return text(object_type)
    return text(predefined or object_type)


def rows(model: Any, products: list[Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns per product (text, and ``body``: has a body representation), and their sorted step ids."""
    relations = Relations(model)
    columns: dict[str, list[Any]] = {c: [] for c in (*COLUMNS, "body")}
    steps = []
    for product in products:
        columns["body"].append(has_body(product))
        element_type = relations.type.get(product.id())
        storey, facility = relations.levels(product)
        network, system_type = relations.system_columns(product)
        values = (
            product.GlobalId,
            product.is_a(),
            text(product.Name),
            _object_type(product),
            storey,
            facility,
            text(element_type.Name) if element_type else "",
            relations.materials(product),
            network,
            system_type,
        )
        for column, value in zip(COLUMNS, values):
            columns[column].append(value)
        steps.append(product.id())
    steps_array = np.asarray(steps, dtype=np.int64)
    order = np.argsort(steps_array, kind="stable")
    out = {c: np.asarray(v, dtype=str)[order] if v else np.empty(0, dtype=str) for c, v in columns.items()}
    out["body"] = np.asarray(columns["body"], dtype=bool)[order]
    return out, steps_array[order]


def connections(model: Any) -> list[list[str]]:
    """Pairs of GlobalIds of elements joined port to port (pipes to chambers, ducts to fittings)."""
    import ifcopenshell.util.system as us

    pairs = []
    for rel in model.by_type("IfcRelConnectsPorts"):
        ends = [us.get_port_element(port) for port in (rel.RelatingPort, rel.RelatedPort)]
        if all(ends):
            pairs.append([ends[0].GlobalId, ends[1].GlobalId])
    return pairs


def spatial_tree(model: Any, shaped: set[int]) -> dict[str, Any] | None:
    """Project -> Site -> Building -> Storey -> Space as nested dicts of plain values.

    ``elements`` lists the GlobalIds of the products in ``shaped`` (step ids) that sit directly
    in a node, the parts of assemblies included; the parent keeps those that got geometry and
    adds the counts (:func:`loaders.ifc.tree.finish`).
    """
    projects = model.by_type("IfcProject")
    if not projects:
        return None

    def parts(element: Any) -> list[Any]:
        return [p for rel in attr(element, "IsDecomposedBy", ()) for p in rel.RelatedObjects]

    def node(entity: Any) -> dict[str, Any]:
        children = [
            node(child)
            for rel in attr(entity, "IsDecomposedBy", ())
            for child in rel.RelatedObjects
            if _is_any(child, SPATIAL)
        ]
        contained = [e for rel in attr(entity, "ContainsElements", ()) for e in rel.RelatedElements]
        contained += [p for e in list(contained) for p in parts(e)]
        elements = [e.GlobalId for e in [entity, *contained] if e.id() in shaped]
        return {
            "id": entity.GlobalId,
            "class": entity.is_a(),
            "name": text(entity.Name),
            "elevation": attr(entity, "Elevation"),
            "children": children,
            "elements": elements,
        }

    return node(projects[0])
