"""Synthetic policy documents for scale benchmarks: 公文-shaped text (title, 文号, chapters and
articles, enumerations, amounts and targets), different per seed, about 25 chunks each.

Only for measuring the product's own costs at thousands of documents; nothing here is a real
policy and nothing in the answering code knows these words."""

from __future__ import annotations

import random

CITIES = ["临海", "青川", "北河", "南屿", "东岭", "西港", "云阳", "安平", "长宁", "河清"]
TOPICS = [
    ("科技型中小企业", "研发费用补助"),
    ("高新技术企业", "认定奖励"),
    ("新型研发机构", "建设补助"),
    ("技术转移机构", "绩效奖励"),
    ("科技企业孵化器", "运营补贴"),
    ("重点实验室", "开放课题资助"),
    ("海外高层次人才", "安家补贴"),
    ("专利导航项目", "经费支持"),
    ("首台套装备", "保险补偿"),
    ("科技成果转化", "贷款贴息"),
]
VERBS = ["支持", "鼓励", "引导", "推动", "扶持"]
MATERIALS = ["申请书", "营业执照复印件", "上年度财务审计报告", "研发项目立项文件", "知识产权证明"]
NUM = "一二三四五六七八九十"


def _cn(n: int) -> str:
    if n <= 10:
        return NUM[n - 1]
    if n < 20:
        return "十" + (NUM[n - 11] if n > 10 else "")
    return NUM[n // 10 - 1] + "十" + (NUM[n % 10 - 1] if n % 10 else "")


# One document in REPEAL_EVERY repeals the one REPEAL_BACK before it (by title and 文号), as
# real policy corpora hold repealed versions beside the documents in force.
REPEAL_EVERY = 20
REPEAL_BACK = 10


def _heading(seed: int) -> tuple[random.Random, str, str, str, str, str, int]:
    rnd = random.Random(seed)
    city = rnd.choice(CITIES) + "市"
    subject, measure = TOPICS[seed % len(TOPICS)]
    year = 2020 + seed % 7
    title = f"{city}{subject}{measure}管理办法（第{seed}号）"
    doc_no = f"{city[:2]}科发〔{year}〕{seed % 97 + 1}号"
    return rnd, city, subject, measure, title, doc_no, year


def document(seed: int) -> tuple[str, str]:
    """(file name, text) of synthetic document ``seed``."""
    rnd, city, subject, measure, title, doc_no, year = _heading(seed)
    lines = [
        title,
        doc_no,
        f"{city}科学技术局  {year}年{rnd.randint(1, 12)}月{rnd.randint(1, 28)}日",
        # a name the document coins in quotes, as real policies do (“鲁科贷”): each upload
        # brings a term new to the corpus, which the index learns and re-tokenises by
        f"为实施“{city[:2]}{measure[:2]}{seed}号计划”（以下简称“计划”），制定本办法。",
        "",
    ]
    article = 0
    for chapter in range(1, 6):
        lines.append(
            f"第{_cn(chapter)}章 {rnd.choice(['总则', '支持对象', '支持标准', '申报程序', '监督管理'])}"
        )
        for _ in range(rnd.randint(4, 6)):
            article += 1
            amount = rnd.choice([5, 10, 20, 30, 50, 100, 200, 300])
            ratio = rnd.choice([10, 20, 30, 40, 50])
            kind = rnd.randrange(4)
            head = f"第{_cn(article)}条 "
            if kind == 0:
                lines.append(
                    head + f"对{city}{subject}开展{measure}的，按实际投入的{ratio}%给予支持，"
                    f"单个项目最高不超过{amount}万元，同一单位每年累计不超过{amount * 2}万元。"
                )
            elif kind == 1:
                lines.append(head + f"申请{measure}的单位应当具备下列条件：")
                for i, cond in enumerate(
                    rnd.sample(
                        [
                            f"在{city}注册登记且具有独立法人资格",
                            "近三年无严重失信行为",
                            f"上年度研发投入不低于{amount}万元",
                            "拥有有效知识产权不少于2项",
                            f"研发人员占职工总数比例不低于{ratio // 2}%",
                        ],
                        3,
                    ),
                    1,
                ):
                    lines.append(f"（{_cn(i)}）{cond}；")
            elif kind == 2:
                lines.append(
                    head + f"到{year + 2}年，力争培育{subject}{amount * 3}家以上，"
                    f"{rnd.choice(VERBS)}建设市级以上创新平台{ratio}个，"
                    f"带动全社会研发投入增长{ratio // 5}%。"
                )
            else:
                lines.append(
                    head + f"申报单位应当提交{'、'.join(rnd.sample(MATERIALS, 3))}等材料，"
                    f"由{city}科学技术局于每年{rnd.randint(3, 10)}月组织评审，"
                    f"评审结果公示{rnd.choice([5, 7])}个工作日。"
                )
        lines.append("")
    last = f"第{_cn(article + 1)}条 本办法自{year}年{rnd.randint(1, 12)}月1日起施行，有效期{rnd.choice([3, 5])}年。"
    if seed % REPEAL_EVERY == REPEAL_EVERY - 1 and seed >= REPEAL_BACK:
        *_, old_title, old_no, _year = _heading(seed - REPEAL_BACK)
        last += f"《{old_title}》（{old_no}）同时废止。"
    lines.append(last)
    return f"synthetic-{seed:05d}.txt", "\n".join(lines) + "\n"


def write_corpus(folder, count: int, start: int = 0) -> list:
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(start, start + count):
        name, text = document(seed)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
