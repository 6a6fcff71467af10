import json, re, sys, os, collections
sys.path.insert(0,os.path.dirname(os.path.abspath(__file__)))
from extract import load, D
TXT={fn:load(fn) for fn in os.listdir(D)}
NOWS={k:re.sub(r'\s+','',v) for k,v in TXT.items()}
CATS={'amount','rate','deadline','condition','materials','list','table','faq','metadata','supersession','target','definition','multipart','followup','unanswerable'}
KEYS=['id','doc','category','question','answerable','facts','evidence']
errs=[]; notes=[]; ids=set(); cnt=collections.Counter(); ans=0
def lcs(a,b):
    best=0
    for i in range(len(a)):
        for j in range(i+best+1,len(a)+1):
            if a[i:j] in b: best=j-i
            else: break
    return best
for ln,line in enumerate(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),'qa_unseen.jsonl'),encoding='utf-8'),1):
    c=json.loads(line); cid=c.get('id')
    ks=list(c.keys())
    if ks[:7]!=KEYS or (len(ks)>7 and ks[7:]!=['history']): errs.append(f'{cid}: key order {ks}')
    if cid in ids: errs.append(f'{cid}: duplicate id')
    ids.add(cid)
    if c['doc'] not in TXT: errs.append(f'{cid}: unknown doc {c["doc"]}'); continue
    if c['category'] not in CATS: errs.append(f'{cid}: bad category')
    cnt[c['category']]+=1
    if 'history' in c:
        h=c['history']
        if not (isinstance(h,list) and [m['role'] for m in h]==['user','assistant']): errs.append(f'{cid}: bad history')
    t=TXT[c['doc']]; tn=NOWS[c['doc']]
    l=lcs(c['question'],t)
    if l>=14: notes.append(f'{cid}: question shares {l} consecutive chars with doc')
    if not c['answerable']:
        if c['facts'] or c['evidence']: errs.append(f'{cid}: unanswerable has facts/evidence')
        if c['category']!='unanswerable': errs.append(f'{cid}: unanswerable category mismatch')
        continue
    ans+=1
    if c['category']=='unanswerable': errs.append(f'{cid}: answerable but category unanswerable')
    if not 1<=len(c['facts'])<=3: errs.append(f'{cid}: {len(c["facts"])} facts')
    for f in c['facts']:
        alts=f.split('|'); found=False
        for k,a in enumerate(alts):
            if a in t: found=True
            elif re.sub(r'\s+','',a) in tn:
                found=True; notes.append(f'{cid}: fact "{a}" found only after whitespace removal')
            elif k>0: notes.append(f'{cid}: alternative "{a}" not in doc (accepted wording only)')
        if not found: errs.append(f'{cid}: fact "{f}" NOT in {c["doc"]}')
        if alts[0] not in t and re.sub(r'\s+','',alts[0]) not in tn: errs.append(f'{cid}: primary alternative "{alts[0]}" not in doc')
    e=c['evidence']
    if not 8<=len(e)<=30: errs.append(f'{cid}: evidence length {len(e)}')
    if e in t:
        n=t.count(e)
        if n>1: notes.append(f'{cid}: evidence occurs {n} times')
    elif re.sub(r'\s+','',e) in tn: notes.append(f'{cid}: evidence found only after whitespace removal')
    else: errs.append(f'{cid}: evidence NOT in {c["doc"]}: {e}')
    if c.get('history'):
        pass
print('cases',len(ids),'answerable',ans,'unanswerable',len(ids)-ans)
print(dict(sorted(cnt.items())))
print('docs',dict(collections.Counter(json.loads(l)['doc'] for l in open(os.path.join(os.path.dirname(os.path.abspath(__file__)),'qa_unseen.jsonl'),encoding='utf-8'))))
for n in notes: print('NOTE',n)
for e in errs: print('ERROR',e)
print('CLEAN' if not errs else f'{len(errs)} errors')
