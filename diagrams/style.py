"""How a chart looks: the fonts, the lanes' colours, the marks of a case's steps (✓ done, ▶ current,
①… the step numbers) and the words for a case's status and for a node without a name."""

from __future__ import annotations

FONT = "Noto Sans CJK SC"
FONT_STACK = "Noto Sans CJK SC,WenQuanYi Zen Hei,sans-serif"  # SVG carries a CSS stack

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
DONE_MARK = "✓"  # U+2713 is in Noto Sans CJK (U+2714 is not)
CURRENT_MARK = "▶"

LANE_FILLS = ["#e8f0fb", "#fcf2e0", "#e5f4e9", "#f0e8f8", "#fbe6e6", "#e0f3f4", "#f2f2df"]
LANE_BORDERS = ["#6f94c4", "#c49a4f", "#5fa377", "#9b7cba", "#c27b7b", "#5aa6ad", "#a3a36a"]

#: What a node without a name is called in its tooltip (never its id: issue 15).
KIND_WORDS = {"gateway": "判断", "inclusive": "判断", "parallel": "同时办理", "event_gateway": "等待", "start": "开始",
              "end": "结束", "catch": "等待", "throw": "通知", "boundary": "等待", "note": "说明", "task": "办事步骤",
              "call": "办事步骤"}

STATUS_NAMES = {"running": "办理中", "completed": "已办结", "rejected": "未通过", "withdrawn": "已撤回",
                "on_hold": "已暂停"}
END_COLORS = {"completed": "#2b8a3e", "rejected": "#c92a2a", "withdrawn": "#868e96", "": "#343a40"}

DONE_FILL, DONE_LINE = "#d3f9d8", "#2b8a3e"
CURRENT_FILL, CURRENT_LINE = "#ffe8a3", "#d9480f"
IDLE_TEXT, IDLE_LINE = "#868e96", "#adb5bd"


def step_mark(number: int) -> str:
    return CIRCLED[number - 1] if 0 < number <= len(CIRCLED) else f"{number}."


def lane_colors(index: int) -> tuple[str, str]:
    return LANE_FILLS[index % len(LANE_FILLS)], LANE_BORDERS[index % len(LANE_BORDERS)]

