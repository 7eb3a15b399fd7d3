"""Twenty two-turn conversations written for ipqa's follow-up tests (10 Chinese, 10 English): the
second question is elliptical (it leans on the first), ``full`` is the same question asked in
full, and ``gold`` are the provisions that answer it (in the corpora under ../shared/data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conversation:
    first: str
    followup: str
    full: str
    gold: tuple[str, ...]


CONVERSATIONS: tuple[Conversation, ...] = (
    # --- Chinese -----------------------------------------------------------------------------------
    Conversation("注册商标的有效期是多久？", "到期了忘了续展怎么办？",
                 "注册商标到期了忘了续展怎么办？", ("中华人民共和国商标法第四十条",)),
    Conversation("发明专利权的保护期限是多久？", "那商标呢？",
                 "商标的保护期限是多久？", ("中华人民共和国商标法第三十九条",)),
    Conversation("专利法第十一条规定了什么？", "第十二条呢？",
                 "专利法第十二条规定了什么？", ("中华人民共和国专利法第十二条",)),
    Conversation("著作权包括哪些人身权和财产权？", "这些权利的保护期有多长？",
                 "著作权的人身权和财产权的保护期有多长？", ("中华人民共和国著作权法第二十三条",)),
    Conversation("单位员工完成的职务发明创造，专利申请权归谁？", "那发明人能拿到奖励吗？",
                 "单位员工完成职务发明创造，发明人能拿到奖励吗？", ("中华人民共和国专利法第十五条",)),
    Conversation("侵犯专利权的赔偿数额怎么确定？", "那商标侵权呢？",
                 "侵犯商标专用权的赔偿数额怎么确定？", ("中华人民共和国商标法第六十三条",)),
    Conversation("什么样的信息属于商业秘密？", "侵犯它要承担什么法律责任？",
                 "侵犯商业秘密要承担什么法律责任？",
                 ("中华人民共和国反不正当竞争法第二十一条", "中华人民共和国反不正当竞争法第十七条")),
    Conversation("外观设计专利的保护期限是多久？", "那需要满足什么条件才能获得授权？",
                 "外观设计专利需要满足什么条件才能获得授权？", ("中华人民共和国专利法第二十三条",)),
    Conversation("商标注册申请被商标局驳回了怎么办？", "如果对复审决定还是不服呢？",
                 "商标注册申请被驳回，对复审决定还是不服怎么办？", ("中华人民共和国商标法第三十四条",)),
    Conversation("为个人学习研究使用他人已发表的作品，需要经过著作权人许可吗？", "那需要支付报酬吗？",
                 "为个人学习研究使用他人已发表的作品，需要向著作权人支付报酬吗？",
                 ("中华人民共和国著作权法第二十四条",)),
    # --- English ------------------------------------------------------------------------------------
    Conversation("How long does a utility patent last in the United States?", "Can that term be extended?",
                 "Can the term of a utility patent be extended?",
                 ("35 U.S.C. § 154", "35 U.S.C. § 156")),
    Conversation("Is a recipe protected by copyright?", "What about the photographs in the cookbook?",
                 "Are the photographs in a cookbook protected by copyright?",
                 ("17 U.S.C. § 102",)),
    Conversation("What acts count as infringing a patent?", "What remedies does the patent owner have for it?",
                 "What remedies does a patent owner have for infringement?",
                 ("35 U.S.C. § 284", "35 U.S.C. § 283", "35 U.S.C. § 281")),
    Conversation("How long does copyright last for a work created by an individual author today?",
                 "And for a work made for hire?",
                 "How long does copyright last in a work made for hire?", ("17 U.S.C. § 302",)),
    Conversation("What exclusive rights does a copyright owner have?", "What about sound recordings?",
                 "What exclusive rights does the owner of copyright in a sound recording have?",
                 ("17 U.S.C. § 114", "17 U.S.C. § 106")),
    Conversation("When is an invention too obvious to be patented?", "And what about novelty?",
                 "When does lack of novelty bar a patent?", ("35 U.S.C. § 102",)),
    Conversation("Which marks can be refused registration as a trademark?", "How long does the registration last?",
                 "How long does a trademark registration last?",
                 ("15 U.S.C. § 1058", "15 U.S.C. § 1059")),
    Conversation("What is dilution of a famous mark?", "What relief can its owner get?",
                 "What relief can the owner of a famous mark get for dilution?",
                 ("15 U.S.C. § 1125",)),
    Conversation("Is there a time limit on recovering damages for patent infringement?", "What about copyright?",
                 "Is there a time limit on recovering damages for copyright infringement?", ("17 U.S.C. § 507",)),
    Conversation("Who must be named as inventors in a patent application made by several people?",
                 "What if one of them refuses to join?",
                 "Can a patent application proceed if a joint inventor refuses to join?", ("35 U.S.C. § 116",)),
)
