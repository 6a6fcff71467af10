import sys, os
from docx import Document
from pypdf import PdfReader
from html.parser import HTMLParser
D=os.path.join(os.path.dirname(os.path.abspath(__file__)),'corpus')
class P(HTMLParser):
    def __init__(s): super().__init__(); s.out=[]; s.skip=0
    def handle_starttag(s,t,a):
        if t in('script','style'): s.skip+=1
        if t in('p','div','br','tr','li','h1','h2','h3','h4','td','th','dt','dd','section','table'): s.out.append('\n')
    def handle_endtag(s,t):
        if t in('script','style'): s.skip-=1
        if t in('td','th'): s.out.append(' | ')
    def handle_data(s,d):
        if not s.skip: s.out.append(d)
def load(fn):
    p=os.path.join(D,fn)
    if fn.endswith('.docx'):
        d=Document(p); parts=[x.text for x in d.paragraphs]
        for t in d.tables:
            for r in t.rows: parts.append(' | '.join(c.text for c in r.cells))
        return '\n'.join(parts)
    if fn.endswith('.pdf'):
        return '\n'.join(pg.extract_text() for pg in PdfReader(p).pages)
    if fn.endswith('.html'):
        x=P(); x.feed(open(p,encoding='utf-8').read()); return ''.join(x.out)
    return open(p,encoding='utf-8').read()
if __name__=='__main__':
    for fn in sorted(os.listdir(D)):
        print(fn, len(load(fn)))
