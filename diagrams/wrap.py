"""Line breaking of Chinese labels: balanced lines that keep common words, a number with its unit and
a short aside in brackets whole."""

from __future__ import annotations

#: Two-character words a line break should not split.
WORDS = ("未通过", "不少于", "通过", "期满", "撤回", "异议", "公示", "决议", "会议", "记录", "公开", "审核", "结果", "实施", "内容",
         "动议", "组织", "办结", "事项", "村民", "代表", "党员", "大会", "申请", "受理", "答复", "驳回", "成立",
         "监委", "两委", "商议", "审议", "提议", "拟定", "情况", "等待", "不少于")


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        for word in WORDS:
            if text.startswith(word, i):
                out.append(word)
                i += len(word)
                break
        else:
            close = text.find("）", i)
            if text[i] == "（" and 0 < close - i <= 6:  # a short aside in brackets stays whole
                out.append(text[i:close + 1])
                i = close + 1
            elif text[i].isdigit():  # keep a number with its unit (7天, 30天)
                j = i
                while j < len(text) and text[j].isdigit():
                    j += 1
                out.append(text[i:j + 1])
                i = j + 1
            else:
                out.append(text[i])
                i += 1
    return out


def _fill(tokens: list[str], target: int) -> list[str]:
    out, line = [], ""
    for token in tokens:
        if line and len(line) + len(token) > target:
            out.append(line)
            line = ""
        line += token
    return out + [line]


def wrap(text: str, width: int) -> list[str]:
    """Split a Chinese label into balanced lines of about ``width`` characters, without
    breaking common words or a number from its unit."""
    text = text.strip()
    if len(text) <= width:
        return [text] if text else []
    tokens = _tokens(text)
    lines = -(-len(text) // width)
    best = None
    for target in range(-(-len(text) // lines), width + 2):
        candidate = _fill(tokens, target)
        score = (len(candidate), max(map(len, candidate)) - min(map(len, candidate)), max(map(len, candidate)))
        if best is None or score < best[0]:
            best = (score, candidate)
    return best[1]

