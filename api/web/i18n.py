"""The page's words in Chinese and English. Templates read them as ``t.<key>``; the script gets the
ones it needs as JSON (``t.script``)."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "ipqa · 知识产权法律问答",
        "tagline": "每一处引用都经过核对：条文、章节、权利要求或段落。",
        "other_language": "English", "other_language_code": "en",
        "tab_ask": "提问", "tab_search": "检索", "tab_upload": "上传文件",
        "api_key": "API 密钥", "api_key_hint": "服务要求密钥时填写；仅保存在本浏览器",
        "question": "问题", "question_placeholder": "例如：未经专利权人许可制造其专利产品是否侵权？",
        "type": "问题类型", "type_auto": "自动识别", "type_doctrine": "法理", "type_conduct": "行为分析",
        "type_case": "案例", "type_drafting": "文书起草",
        "ask": "提问", "new_conversation": "新对话", "conversation": "对话",
        "understood_as": "结合上文理解为", "carried": "沿用",
        "answering": "正在作答…", "abstained": "未作答",
        "citations": "引用", "verified": "已核实", "unsupported": "未获支持", "unresolvable": "无法解析",
        "search": "检索", "query": "检索词", "query_placeholder": "例如：专利法第十一条 为生产经营目的",
        "jurisdiction": "法域", "kind": "文件类型", "law": "法律名称", "law_placeholder": "完整标题，如 中华人民共和国专利法",
        "date_from": "版本日期自", "date_to": "至", "any": "不限",
        "as_of": "法律版本截至", "as_of_hint": "留空：现行有效的版本；选一个日期：该日有效的版本",
        "law_as_of": "适用版本：{date} 时有效", "law_today": "适用版本：现行有效", "bad_as_of": "日期无效",
        "kind_statute": "法律法规", "kind_judgment": "裁判文书", "kind_patent": "专利", "kind_other": "其他",
        "no_hits": "没有结果。", "hits": "条结果",
        "upload": "上传", "upload_hint": "需要具有写权限的 API 密钥。文件将被解析并建立新的索引版本。",
        "job": "任务", "unit_view": "引用的条文", "close": "关闭", "previous": "上一条", "next": "下一条",
        "versions": "其他版本", "version": "版本", "no_other_versions": "没有其他版本。",
        "history": "沿革（各版本中的对应条文）", "effective": "施行", "until": "至", "in_force_today": "现行有效",
        "rel_same": "未修改", "rel_amended": "修改", "rel_moved": "移位", "rel_split": "拆分自", "rel_merged": "合并",
        "rel_inserted": "新增", "renumbered": "条号变更", "came_from": "源自",
        "status_deleted": "本版本中已删除", "status_not_yet": "本版本中尚无此条",
        "verification": "核对结果", "quote": "引用原文", "path": "位置",
        "error": "出错了", "loading": "加载中…",
    },
    "en": {
        "title": "ipqa · IP law questions",
        "tagline": "Every citation checked against the article, section, claim or paragraph it cites.",
        "other_language": "中文", "other_language_code": "zh",
        "tab_ask": "Ask", "tab_search": "Search", "tab_upload": "Upload",
        "api_key": "API key", "api_key_hint": "Needed when the service requires a key; kept in this browser only",
        "question": "Question", "question_placeholder": "e.g. Is making a patented product without a licence infringement?",
        "type": "Question type", "type_auto": "Detect", "type_doctrine": "Doctrine", "type_conduct": "Conduct",
        "type_case": "Case", "type_drafting": "Drafting",
        "ask": "Ask", "new_conversation": "New conversation", "conversation": "Conversation",
        "understood_as": "Understood as", "carried": "Carried forward",
        "answering": "Answering…", "abstained": "No answer",
        "citations": "Citations", "verified": "verified", "unsupported": "unsupported", "unresolvable": "unresolvable",
        "search": "Search", "query": "Query", "query_placeholder": "e.g. 35 U.S.C. § 271 induces infringement",
        "jurisdiction": "Jurisdiction", "kind": "Document kind", "law": "Law", "law_placeholder": "Exact title, e.g. 35 U.S.C.",
        "date_from": "Version from", "date_to": "to", "any": "Any",
        "as_of": "Law as of", "as_of_hint": "Empty: the law in force today; a date: the versions in force on it",
        "law_as_of": "Law as in force on {date}", "law_today": "Law in force today", "bad_as_of": "Invalid date",
        "kind_statute": "Statute", "kind_judgment": "Judgment", "kind_patent": "Patent", "kind_other": "Other",
        "no_hits": "Nothing found.", "hits": "hits",
        "upload": "Upload", "upload_hint": "Needs a write-scoped API key. Files are parsed into a new index version.",
        "job": "Job", "unit_view": "Cited unit", "close": "Close", "previous": "Previous", "next": "Next",
        "versions": "Other versions", "version": "Version", "no_other_versions": "No other versions.",
        "history": "History (the corresponding article in each version)", "effective": "effective", "until": "until",
        "in_force_today": "in force today",
        "rel_same": "unchanged", "rel_amended": "amended", "rel_moved": "moved", "rel_split": "split off",
        "rel_merged": "merged", "rel_inserted": "inserted", "renumbered": "renumbered", "came_from": "from",
        "status_deleted": "deleted in this version", "status_not_yet": "not yet in the law",
        "verification": "Verification", "quote": "Quoted", "path": "Path",
        "error": "Error", "loading": "Loading…",
    },
}

# the words the script writes into the page itself
SCRIPT_KEYS = ("answering", "abstained", "citations", "verified", "unsupported", "unresolvable", "no_hits", "hits",
               "understood_as", "carried", "job", "error", "loading", "conversation", "law_as_of", "law_today")


def pick_language(requested: str | None, accept_language: str | None) -> str:
    """``?lang=`` when it is one we have, else the first of ours the browser accepts, else zh."""
    if requested in LANGUAGES:
        return requested  # type: ignore[return-value]
    for item in (accept_language or "").split(","):
        code = item.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "zh"
