"""What a page of Home Assistant's frontend shows, read through its shadow roots.

The frontend is made of web components: most of its text sits in shadow roots, where
``document.body.innerText`` and plain selectors do not reach. :data:`PAGE_TEXT_JS` walks
every node, shadow roots included, and returns the visible text as one string. Used by the
README's screenshot (``tools/devhass/screenshot.py``) and the browser tests
(``tests/e2e/browser.py``).
"""

from __future__ import annotations

from typing import Final

PAGE_TEXT_JS: Final = """
(() => {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { parts.push(node.textContent); return; }
    if (node.nodeName === "STYLE" || node.nodeName === "SCRIPT") return;
    if (node.nodeType === Node.ELEMENT_NODE) {
      if (node.nodeName === "INPUT" || node.nodeName === "TEXTAREA") parts.push(node.value);
      const label = node.getAttribute("aria-label");
      if (label) parts.push(label);
    }
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document.documentElement);
  return parts.join(" ").replace(/\\s+/g, " ");
})()
"""
"""A JavaScript expression: the text of the whole page, through shadow roots, one string
(text nodes, the values of inputs and the ``aria-label`` attributes, whitespace collapsed)."""

TRANSLATION_ERROR: Final = "Translation error"
"""What the frontend shows instead of a translation string it cannot parse."""
