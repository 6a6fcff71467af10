"""What the served page carries besides Gradio's components: the Chinese ``<title>``, description
and ``og:`` tags (a link pasted into WeChat previews as the assistant, not as "Gradio"), the
Chinese locale for Gradio's own strings, the phone-first CSS (light and dark) and the small script
that makes copy, citations, scrolling and the ``?q=`` link behave.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TITLE = "威海科技政策问答助手"
DESCRIPTION = "根据已收录的科技政策文件回答问题，每个回答都注明出处，可查看原文条款；文件中没有依据时如实说明。"

# Gradio picks its UI language from the browser's; this product speaks Chinese to everyone.
_LOCALE = (
    "<script>(function(){try{"
    "Object.defineProperty(navigator,'language',{get:function(){return 'zh-CN';}});"
    "Object.defineProperty(navigator,'languages',{get:function(){return ['zh-CN','zh'];}});"
    "}catch(e){}})();</script>"
)
_HEAD = (
    f"<title>{TITLE}</title>"
    f'<meta name="description" content="{DESCRIPTION}">'
    f'<meta property="og:title" content="{TITLE}">'
    f'<meta property="og:description" content="{DESCRIPTION}">'
    '<meta property="og:type" content="website">'
    '<meta property="og:locale" content="zh_CN">'
    '<meta name="twitter:card" content="summary">'
    f'<meta name="twitter:title" content="{TITLE}">'
    '<meta name="color-scheme" content="light dark">'
    '<meta name="theme-color" content="#1d4ed8">' + _LOCALE
)
_SOCIAL = re.compile(rb"<meta\s+(?:property|name)=\"(?:og|twitter):[^>]*>\s*", re.S)
_TITLE_TAG = re.compile(rb"<title>.*?</title>", re.S)


def rewrite_index(page: bytes) -> bytes:
    page = _SOCIAL.sub(b"", page)  # Gradio's "Gradio" / "Click to try out the app!" tags
    page = _TITLE_TAG.sub(b"", page)
    page = re.sub(rb'<html(\s[^>]*?)lang="en"', rb'<html\1lang="zh-CN"', page, count=1)
    return page.replace(
        b'<meta charset="utf-8" />', b'<meta charset="utf-8" />' + _HEAD.encode(), 1
    )


class IndexPageMiddleware:
    """Rewrites the HTML of the UI's index page (``/ui/``) on its way out; everything else passes
    untouched. Pure ASGI, wrapped around the mounted Gradio app only."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner = scope.get("path", "")[len(scope.get("root_path", "")) :]
        if scope["type"] != "http" or scope.get("method") != "GET" or inner not in ("", "/"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            assert start is not None
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            kinds = dict((k.lower(), v) for k, v in headers)
            html = kinds.get(b"content-type", b"").startswith(b"text/html")
            data = (
                rewrite_index(bytes(body))
                if html and b"content-encoding" not in kinds
                else bytes(body)
            )
            headers.append((b"content-length", str(len(data)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, capture)


# Phone first: at 390 px the header shrinks, the chat fills the height between the tabs and the
# input row, and the page itself does not scroll on the chat tab (one scroller, the chat's).
CSS = """
:root { --pa-accent: #1d4ed8; }
html, body { height: 100%; }
.app.fillable { padding-top: 8px !important; padding-bottom: 4px !important; }
footer { display: none !important; }
#pa-header h1, #pa-header h2 { margin: 0 0 2px; font-size: 1.25rem; }
#pa-header p { margin: 0; font-size: .92rem; }
button, [role="tab"], .pa-copy, .pa-ref, .pa-open, input, textarea, select { min-height: 44px; }
button { font-size: 15px !important; }
#pa-chat { min-height: 160px; }
.pa-plain { display: none !important; }
#pa-send, #pa-new { white-space: nowrap; }
#pa-chat [data-testid='user'] { scroll-margin-top: 12px; }
#pa-chat .user-row { padding-right: 52px; }  /* clear of the trash icon in the top corner */
#pa-chat button[aria-label] { min-width: 44px; min-height: 44px; }
.pa-q { white-space: normal; overflow-wrap: anywhere; }
.pa-answer { line-height: 1.75; overflow-wrap: anywhere; }
a.pa-ref { display: inline-flex; align-items: center; justify-content: center;
           min-width: 44px; min-height: 32px; margin: 0 2px; padding: 0 4px;
           border-radius: 6px; font-weight: 700; text-decoration: none;
           color: #1d4ed8 !important; background: #dbeafe; }
.pa-cite-doc a.pa-ref { min-height: 32px; }
.pa-abstain { border-left: 4px solid #b45309; background: #fffbeb; color: #451a03;
              padding: 8px 12px; border-radius: 6px; line-height: 1.75; }
.pa-abstain-title { font-weight: 700; margin-bottom: 4px; color: #78350f; font-size: 1.05em; }
.pa-error { border-left: 4px solid #b91c1c; background: #fef2f2; color: #7f1d1d;
            padding: 8px 12px; border-radius: 6px; }
.pa-note { color: #374151; font-size: .92em; margin-top: 6px; }
.pa-cites { margin-top: 10px; border-top: 1px dashed #94a3b8; padding-top: 6px; }
.pa-cites summary { cursor: pointer; color: #1d4ed8; font-weight: 600; min-height: 44px;
                    display: flex; align-items: center; }
.pa-related { margin-top: 10px; border-top: 1px dashed #b45309; padding-top: 6px; }
.pa-related-title { font-weight: 600; }
.pa-cite { margin: 8px 0; }
.pa-cite-doc { font-weight: 600; }
.pa-cite-section { color: #374151; font-size: .92em; }
.pa-cite-text { border-left: 3px solid #60a5fa; margin: 4px 0 0; padding: 2px 10px;
                color: #111827; background: #f8fafc; }
a.pa-open { display: inline-flex; align-items: center; color: #1d4ed8 !important; }
.pa-actions { margin-top: 8px; display: flex; gap: 8px; }
.pa-copy { padding: 0 14px; border-radius: 8px; border: 1px solid #94a3b8; background: #ffffff;
           color: #111827; cursor: pointer; }
#pa-starter .pa-group { margin: 4px 0 0; font-weight: 600; font-size: .92rem; }
.pa-examples, #pa-suggest { gap: 6px !important; }
.pa-examples button, #pa-suggest button { white-space: normal !important; text-align: left;
    justify-content: flex-start !important; line-height: 1.35 !important; }
#pa-feedback { border: 1px solid #b45309; border-radius: 8px; padding: 8px; }
#pa-input-row { align-items: stretch; }
#pa-doc-dialog { width: min(900px, 96vw); height: min(88dvh, 900px); padding: 0; border: 0;
                 border-radius: 10px; box-shadow: 0 10px 40px rgba(0,0,0,.35); }
#pa-doc-dialog::backdrop { background: rgba(15, 23, 42, .55); }
#pa-doc-dialog .pa-doc-bar { display: flex; gap: 8px; align-items: center; padding: 4px 8px;
    background: #1d4ed8; color: #ffffff; }
#pa-doc-dialog .pa-doc-bar span { flex: 1; font-weight: 600; }
#pa-doc-dialog .pa-doc-bar a, #pa-doc-dialog .pa-doc-bar button { color: #ffffff;
    background: transparent; border: 1px solid #ffffff; border-radius: 6px; padding: 0 12px;
    min-height: 44px; display: inline-flex; align-items: center; text-decoration: none; }
#pa-doc-frame { width: 100%; height: calc(100% - 52px); border: 0; background: #ffffff; }
.pa-cards { display: none; }
.pa-card { border: 1px solid #cbd5e1; border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
.pa-card-value { font-size: 1.3em; font-weight: 700; white-space: nowrap; }
.pa-card-subject { font-weight: 600; }
.pa-card-item, .pa-card-doc { color: #374151; font-size: .9em; }
.pa-card-sentence { margin-top: 4px; }

@media (max-width: 640px) {
  .app.fillable { padding: 4px 6px !important; }
  #pa-header p { display: none; }
  #pa-header h1, #pa-header h2 { font-size: 1.05rem; }
  #pa-starter { gap: 4px !important; }
  .pa-examples { flex-direction: column !important; gap: 4px !important; }
  .pa-examples button { min-height: 44px; padding: 4px 10px !important; }
  #pa-input-row { flex-wrap: nowrap !important; gap: 6px !important; }
  #pa-input-row > * { min-width: 0 !important; }
  #pa-targets { display: none !important; }
  .pa-cards { display: block; }
}

/* dark mode: Gradio follows the OS; every colour of ours has a dark pair (contrast ≥ 4.5:1) */
.dark a.pa-ref { color: #bfdbfe !important; background: #1e3a8a; }
.dark .pa-abstain { background: #292524; color: #fef3c7; border-left-color: #f59e0b; }
.dark .pa-abstain-title { color: #fcd34d; }
.dark .pa-error { background: #2a1212; color: #fecaca; }
/* one selector per rule: Gradio scopes the custom CSS and mishandles ".dark" in a list */
.dark .pa-note { color: #cbd5e1; }
.dark .pa-cite-section { color: #cbd5e1; }
.dark .pa-card-item { color: #cbd5e1; }
.dark .pa-card-doc { color: #cbd5e1; }
.dark .pa-cites summary { color: #93c5fd !important; }
.dark a.pa-open { color: #93c5fd !important; }
.dark .pa-cite-text { color: #e5e7eb; background: #1f2937; border-left-color: #60a5fa; }
.dark .pa-copy { background: #1f2937; color: #f3f4f6; border-color: #6b7280; }
.dark .pa-card { border-color: #475569; }
"""

# One delegated listener: the chat re-renders its messages, so handlers on the elements would
# be lost. Copy writes the plain text carried by the button (never the message's HTML); [n]
# and 在原文中查看 open the document view in a dialog (a new tab still works: they are links).
JS = r"""
<script>
(function () {
  if (window.__paInstalled) return;
  window.__paInstalled = true;

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", "");
    area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
    return Promise.resolve();
  }

  function dialog() {
    var d = document.getElementById("pa-doc-dialog");
    if (d) return d;
    d = document.createElement("dialog");
    d.id = "pa-doc-dialog";
    d.setAttribute("aria-label", "原文");
    var bar = document.createElement("div"); bar.className = "pa-doc-bar";
    var title = document.createElement("span"); title.textContent = "原文";
    var open = document.createElement("a"); open.textContent = "新窗口打开";
    open.target = "_blank"; open.rel = "noopener"; open.id = "pa-doc-newtab";
    var close = document.createElement("button"); close.type = "button";
    close.textContent = "关闭"; close.id = "pa-doc-close";
    close.addEventListener("click", function () { d.close(); });
    bar.append(title, open, close);
    var frame = document.createElement("iframe");
    frame.id = "pa-doc-frame"; frame.title = "原文";
    frame.setAttribute("sandbox", "allow-same-origin");
    d.append(bar, frame);
    d.addEventListener("close", function () { frame.src = "about:blank"; });
    document.body.appendChild(d);
    return d;
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest(".pa-copy");
    if (btn) {
      ev.preventDefault();
      var plain = btn.parentNode.querySelector(".pa-plain");
      copyText(plain ? plain.textContent : "").then(function () {
        btn.textContent = "已复制";
        setTimeout(function () { btn.textContent = "复制"; }, 2000);
      });
      return;
    }
    var link = ev.target.closest && ev.target.closest("a.pa-ref, a.pa-open");
    if (link && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
      ev.preventDefault();
      ev.stopPropagation();
      var d = dialog();
      d.querySelector("#pa-doc-frame").src = link.href;
      d.querySelector("#pa-doc-newtab").href = link.href;
      if (!d.open) d.showModal();
    }
  }, true);

  // The chat's own aria-label repeats the message's HTML source: give it the text instead.
  var ENGLISH = {"chatbot conversation": "对话", "More tabs": "更多标签页",
                 "Copy message": "复制", "Like": "赞", "Dislike": "踩", "Clear": "清空对话",
                 "Close": "关闭"};
  var TOAST = {"Warning": "提示", "Info": "提示", "Error": "出错了", "Success": "完成"};
  // messages Gradio writes in English whatever the locale
  var TOAST_TEXT = {
    "Connection to the server was lost. Attempting reconnection...":
      "与服务器的连接已断开，正在尝试重新连接……",
    "Lost connection to server. Please try again.": "与服务器的连接已断开，请稍后重试。"
  };
  function fixLabels(root) {
    root.querySelectorAll(".toast-title").forEach(function (el) {
      var zh = TOAST[el.textContent.trim()];
      if (zh) el.textContent = zh;
    });
    root.querySelectorAll('[data-testid="toast-text"]').forEach(function (el) {
      var zh = TOAST_TEXT[el.textContent.trim()];
      if (zh) el.textContent = zh;
    });
    root.querySelectorAll("[aria-label]").forEach(function (el) {
      var zh = ENGLISH[el.getAttribute("aria-label")];
      if (zh) el.setAttribute("aria-label", zh);
    });
    root.querySelectorAll("#pa-chat [aria-label]").forEach(function (el) {
      var label = el.getAttribute("aria-label");
      if (label && /<[a-z]/i.test(label)) {
        var who = el.querySelector(".pa-q") ? "提问：" : "回答：";
        el.setAttribute("aria-label", who + el.innerText.trim().slice(0, 500));
      }
    });
  }

  // The chat takes the height the other rows leave, so the page itself never scrolls on the
  // chat tab and the input stays at the bottom of the screen.
  function fit(chat) {
    var input = document.getElementById("pa-input-row");
    if (!input || !chat.offsetParent) return;
    var top = chat.getBoundingClientRect().top + window.scrollY;
    var below = input.getBoundingClientRect().bottom - chat.getBoundingClientRect().bottom;
    var h = Math.max(160, Math.floor(window.innerHeight - top - below - 10));
    if (Math.abs(chat.offsetHeight - h) > 2) {
      chat.style.setProperty("height", h + "px", "important");
      chat.style.setProperty("max-height", h + "px", "important");
    }
    var over = document.documentElement.scrollHeight - window.innerHeight;
    if (over > 0 && h - over >= 160) {
      h -= over;
      chat.style.setProperty("height", h + "px", "important");
      chat.style.setProperty("max-height", h + "px", "important");
    }
  }
  window.addEventListener("resize", function () {
    var chat = document.getElementById("pa-chat");
    if (chat) fit(chat);
  });

  var seen = new WeakSet();
  function onChange() {
    fixLabels(document);
    var chat = document.getElementById("pa-chat");
    if (!chat) return;
    fit(chat);
    var started = chat.querySelector(".pa-q") !== null;
    chat.classList.toggle("pa-started", started);
    var finals = chat.querySelectorAll(".pa-msg");
    var last = finals[finals.length - 1];
    if (!last || seen.has(last)) return;
    seen.add(last);
    // show a new answer from its top (its question just above), not its tail
    var users = chat.querySelectorAll("[data-testid='user']");
    var anchor = users[users.length - 1] || last;
    anchor.scrollIntoView({block: "start"});
    if (last.classList.contains("pa-final") && /[?&]q=/.test(location.search)) {
      // the link's question is answered and kept: a reload must not ask it again
      history.replaceState(null, "", location.pathname + location.hash);
    }
  }
  new MutationObserver(function () {
    window.requestAnimationFrame(onChange);
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
})();
</script>
"""
