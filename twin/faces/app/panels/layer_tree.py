"""The left drawer: layers by source with visibility and opacity, IFC trees, the utility legend."""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import js, testid
from twin.faces.app.view_colours import DEPTH_RANGE
from twin.faces.i18n import aria_label, text, tr, tr_expr

#: viridis reversed (the 3D view's depth ramp): shallow yellow to deep purple
DEPTH_CSS = "#fde725, #5ec962, #21918c, #3b528b, #440154"
#: a layer's accessible name: its source and its own name, in the browser's language
LAYER_NAME = f"layer.name.split('/')[0] + ' ' + {tr_expr('layer.label')}"
OPACITY_NAME = f"{tr('Opacity')} + ' ' + {LAYER_NAME}"
DEPTH_LABELS = (f"{DEPTH_RANGE[0]:g} m", f"{sum(DEPTH_RANGE) / 2:g} m", f"≥ {DEPTH_RANGE[1]:g} m")


def build() -> None:
    v3.VListSubheader(text("Layers"), classes="text-overline px-4")
    with v3.VList(density="compact", classes="py-0", bg_color="transparent"):
        with html.Div(v_for="group in layer_groups", key="group.name", classes="mb-2"):
            with v3.VListItem(density="compact", classes="px-3"):
                with v3.Template(v_slot_prepend=True):
                    v3.VIcon("{{ group.icon }}", size="small", classes="mr-n4")
                v3.VListItemTitle("{{ group.name }}", classes="font-weight-bold")
                v3.VListItemSubtitle(
                    f"{{{{ {tr_expr('group.kind')} }}}}"
                    f"{{{{ group.warnings ? ' · ' + group.warnings + ' ' + {tr('warnings')} : '' }}}}"
                )
            v3.VAlert(
                v_if="group.error",
                type="error",
                density="compact",
                variant="tonal",
                classes="mx-3 text-body-2",
                style="overflow-wrap: anywhere",
                text=("group.error",),
                raw_attrs=[testid("'error-' + group.name", bound=True)],
            )
            with html.Div(v_for="layer in group.layers", key="layer.name", classes="px-3"):
                _layer_row()
            with html.Div(v_if="group.tree", classes="px-1"):
                with v3.VTreeview(
                    items=("group.tree",),
                    item_value="value",
                    item_title="title",
                    density="compact",
                    activatable=True,
                    open_strategy="multiple",
                    activated=("selected_tree",),
                    opened=("tree_opened",),
                    update_opened="tree_opened = $event",
                    update_activated=("typeof $event[0] === 'number' && " + js("select", "$event[0]", "true")),
                    raw_attrs=[testid("'tree-' + group.name", bound=True)],
                ):
                    with v3.Template(v_slot_toggle="{ props }"):  # the open / close button, named
                        v3.VBtn(v_bind="props", raw_attrs=[aria_label("Open or close")])
    _legend()


def _layer_row() -> None:
    with html.Div(classes="d-flex align-center"):
        v3.VCheckboxBtn(
            model_value=("cfg.visible.includes(layer.name)",),
            density="compact",
            style="flex: 0 0 auto",
            update_modelValue=js("toggleLayer", "layer.name", "$event"),
            raw_attrs=[testid("'layer-' + layer.name", bound=True), f':aria-label="{LAYER_NAME}"'],
        )
        html.Span(
            style=("{background: layer.color, width: '10px', height: '10px', borderRadius: '2px'}",),
            classes="mr-2 flex-shrink-0",
        )
        html.Span(f"{{{{ {tr_expr('layer.label')} }}}}", classes="text-body-2 text-truncate")
        v3.VSpacer()
        html.Span("{{ (layer.points || layer.assets).toLocaleString() }}", classes="text-caption text-medium-emphasis")
    v3.VSlider(
        model_value=("cfg.opacity[layer.name] ?? 1",),
        min=0,
        max=1,
        step=0.05,
        density="compact",
        hide_details=True,
        classes="ml-8 mr-1 mt-n2",
        color="grey",
        track_size=2,
        thumb_size=10,
        end=js("setOpacity", "layer.name", "$event"),
        raw_attrs=[
            testid("'opacity-' + layer.name", bound=True),
            f':aria-label="{OPACITY_NAME}"',
        ],
    )
    with html.Div(v_if="layer.modes.length", classes="ml-8 mb-2"):
        v3.VSelect(
            items=(f"layer.modes.map(m => ({{value: m.value, title: {tr_expr('m.title')}}}))",),
            model_value=("cfg.point_mode[layer.name] || 'rgb'",),
            label=(tr("Colour by"),),
            density="compact",
            hide_details=True,
            variant="outlined",
            update_modelValue=js("setCfg", "{point_mode: Object.assign({}, cfg.point_mode, {[layer.name]: $event})}"),
            raw_attrs=[testid("'colour-' + layer.name", bound=True)],
        )
        with v3.VChipGroup(
            v_if="layer.classes.length",
            multiple=True,
            column=True,
            filter=True,
            model_value=(
                "layer.classes.map(c => c.code).filter(c => !(cfg.hidden_classes[layer.name] || []).includes(c))",
            ),
            update_modelValue=js(
                "setCfg",
                "{hidden_classes: Object.assign({}, cfg.hidden_classes, "
                "{[layer.name]: layer.classes.map(c => c.code).filter(c => !$event.includes(c))})}",
            ),
            raw_attrs=[testid("'classes-' + layer.name", bound=True)],
        ):
            v3.VChip(
                f"{{{{ c.code }}}} {{{{ {tr_expr('c.name.slice(String(c.code).length + 1)')} }}}}",
                v_for="c in layer.classes",
                key="c.code",
                value=("c.code",),
                size="x-small",
                variant="outlined",
                filter=True,
            )


def _legend() -> None:
    with html.Div(v_if="legend.length", classes="px-4 pb-3"):
        html.Div(text("Utility colours"), classes="text-overline")
        with html.Div(v_for="item in legend", key="item.kind", classes="d-flex align-center text-body-2"):
            html.Span(
                style=("{background: item.color, width: '22px', height: '5px', borderRadius: '2px'}",), classes="mr-2"
            )
            html.Span(f"{{{{ {tr_expr('item.label')} }}}}")
    with html.Div(v_if="cfg.underground !== 'off'", classes="px-4 pb-3", raw_attrs=[testid("depth-legend")]):
        html.Div(text("Underground"), classes="text-overline")
        with v3.VBtnToggle(
            model_value=("cfg.underground",),
            mandatory=True,
            density="compact",
            divided=True,
            variant="outlined",
            update_modelValue=js("setCfg", "{underground: $event}"),
        ):
            v3.VBtn(text("Translucent"), value="translucent", size="x-small")
            v3.VBtn(text("Hidden"), value="hidden", size="x-small", raw_attrs=[testid("underground-hidden")])
        v3.VSlider(
            label=(tr("Depth ×"),),
            model_value=("cfg.exaggeration",),
            min=1,
            max=10,
            step=1,
            density="compact",
            hide_details=True,
            thumb_label=True,
            classes="mt-2",
            end=js("setCfg", "{exaggeration: $event}"),
        )
        v3.VSwitch(
            label=(tr("Colour pipes by depth"),),
            model_value=("cfg.depth_colours",),
            density="compact",
            hide_details=True,
            color="primary",
            update_modelValue=js("setCfg", "{depth_colours: $event}"),
            raw_attrs=[testid("depth-colours")],
        )
        with html.Div(v_if="cfg.depth_colours"):
            html.Div(style=f"height: 10px; border-radius: 2px; background: linear-gradient(90deg, {DEPTH_CSS})")
            with html.Div(classes="d-flex justify-space-between text-caption"):
                for label in DEPTH_LABELS:
                    html.Span(label)
        html.Div(
            text("Depth of cover below the ground surface; pipes deeper than the ramp get its last colour."),
            classes="text-caption text-medium-emphasis",
        )
