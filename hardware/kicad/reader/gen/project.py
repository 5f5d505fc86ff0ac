"""The .kicad_pro project file: design rules, net classes, ERC/DRC settings."""

from __future__ import annotations

import json

from .design import POWER_NETS


def project_json() -> str:
    netclass = {
        "bus_width": 12, "clearance": 0.2, "diff_pair_gap": 0.25, "diff_pair_via_gap": 0.25,
        "diff_pair_width": 0.2, "line_style": 0, "microvia_diameter": 0.3, "microvia_drill": 0.1,
        "pcb_color": "rgba(0, 0, 0, 0.000)", "priority": 2147483647, "schematic_color": "rgba(0, 0, 0, 0.000)",
        "track_width": 0.25, "via_diameter": 0.6, "via_drill": 0.3, "wire_width": 6,
    }
    power = dict(netclass, name="Power", track_width=0.5, priority=0)
    project = {
        "board": {
            "design_settings": {
                "defaults": {"board_outline_line_width": 0.1, "copper_line_width": 0.2,
                             "silk_line_width": 0.12, "silk_text_size_h": 1.0, "silk_text_size_v": 1.0,
                             "silk_text_thickness": 0.15},
                "rules": {
                    "min_clearance": 0.2, "min_connection": 0.2, "min_copper_edge_clearance": 0.3,
                    "min_hole_clearance": 0.25, "min_hole_to_hole": 0.25, "min_microvia_diameter": 0.2,
                    "min_microvia_drill": 0.1, "min_resolved_spokes": 2, "min_silk_clearance": 0.0,
                    "min_text_height": 0.8, "min_text_thickness": 0.08, "min_through_hole_diameter": 0.3,
                    "min_track_width": 0.2, "min_via_annular_width": 0.1, "min_via_diameter": 0.5,
                    "solder_mask_to_copper_clearance": 0.0, "use_height_for_length_calcs": True,
                },
                "track_widths": [0.0, 0.25, 0.4, 0.5],
                "via_dimensions": [{"diameter": 0.0, "drill": 0.0}, {"diameter": 0.6, "drill": 0.3}],
            },
        },
        "meta": {"filename": "reader.kicad_pro", "version": 3},
        "net_settings": {
            "classes": [dict(netclass, name="Default"), power],
            "meta": {"version": 4},
            "netclass_assignments": None,
            "netclass_patterns": [{"netclass": "Power", "pattern": name} for name in POWER_NETS],
        },
        "schematic": {"legacy_lib_dir": "", "legacy_lib_list": []},
        "text_variables": {},
    }
    return json.dumps(project, indent=2, ensure_ascii=False) + "\n"
