from reportlab.pdfgen import canvas
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
F = "STSong-Light"
W, H = A4
FS = 15
LEFT = 75
MAXW = FS * 28  # 28 full-width characters per line
TOP = H - 95
BOTTOM = 85
LEAD = 26

out = "/tmp/unseen/corpus/青川市创新平台建设奖励实施方案.pdf"
c = canvas.Canvas(out, pagesize=A4)
c.setTitle("青川市创新平台建设奖励实施方案")
c.setAuthor("青川市人民政府办公室")
page = 1


def footer():
    c.setFont(F, 12)
    c.drawCentredString(W / 2, 45, f"— {page} —")


def decorate():
    c.setFont(F, 9)
    c.drawString(LEFT, H - 50, "青川市人民政府办公室")
    c.drawRightString(LEFT + MAXW, H - 50, "青政办发〔2024〕27号")
    c.setLineWidth(0.5)
    c.line(LEFT, H - 56, LEFT + MAXW, H - 56)


NOSTART = "，。、；：？！）》”’%"


def wrap(text, first_indent):
    lines, cur, width = [], "", first_indent
    limit = MAXW
    for ch in text:
        w = pdfmetrics.stringWidth(ch, F, FS)
        if width + w > limit and ch not in NOSTART:
            lines.append(cur)
            cur, width = "", 0
        cur += ch
        width += w
    if cur:
        lines.append(cur)
    return lines


y = TOP
decorate()


def newline(h=LEAD):
    global y, page
    if y - h < BOTTOM:
        footer()
        c.showPage()
        page += 1
        decorate()
        y = TOP
    y -= h


src = open("/tmp/unseen/src/doc3.txt", encoding="utf-8").read().splitlines()
for raw in src:
    raw = raw.rstrip()
    if not raw:
        continue
    if raw.startswith("@"):
        t = raw[1:]
        size = 20 if t.endswith("文件") or t.endswith("方案") else FS
        if "关于印发" in t:
            size = 16
        c.setFont(F, size)
        # titles can also be long: wrap centred
        chunks = [t[i:i + 24] for i in range(0, len(t), 24)]
        newline(LEAD + 8 if size > FS else LEAD)
        for k, ch in enumerate(chunks):
            if k:
                newline(size + 10)
            c.drawCentredString(W / 2, y, ch)
        newline(6)
        continue
    if raw.startswith(">"):
        c.setFont(F, FS)
        newline()
        c.drawRightString(LEFT + MAXW - FS * 2, y, raw[1:])
        continue
    c.setFont(F, FS)
    ind = FS * 2
    for i, ln in enumerate(wrap(raw, ind)):
        newline()
        c.drawString(LEFT + (ind if i == 0 else 0), y, ln)

footer()
c.showPage()
c.save()
print("pages", page)
