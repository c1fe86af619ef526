// Phone layout (issue 15 item 9): under 480 px a table's rows show as cards (style.css), each
// cell captioned by its column's header. The captions are taken from the header of every table
// the views draw (data-label), so the views need not know about phones.
function label(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => { if (heads[i] && td.dataset.label !== heads[i]) td.dataset.label = heads[i]; });
  }
}

new MutationObserver((changes) => {
  const tables = new Set();
  for (const c of changes) {
    for (const n of c.addedNodes) {
      if (!(n instanceof Element)) continue;
      const t = n.closest("table") || n;
      if (t.matches?.("table.table")) tables.add(t);
      for (const inner of n.querySelectorAll?.("table.table") || []) tables.add(inner);
    }
  }
  tables.forEach(label);
}).observe(document.body, { childList: true, subtree: true });
