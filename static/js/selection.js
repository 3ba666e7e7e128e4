// Row selection of a list (templates/students/_selection.html): the checkboxes belong to the selection form
// through their form="…" attribute, so the form posts the ids by itself; this script counts the selected
// rows, shows the bar while any is selected, selects a whole page, and posts the list's current address.
(() => {
  const form = () => document.querySelector("form[data-selection]");
  const rows = () => Array.from(document.querySelectorAll("input[data-select-row]"));

  function refresh() {
    const bar = form();
    if (!bar) return;
    const all = rows();
    const chosen = all.filter((box) => box.checked).length;
    bar.querySelector("[data-selection-count]").textContent = String(chosen);
    bar.hidden = chosen === 0;
    document.querySelectorAll("input[data-select-all]").forEach((head) => {
      head.checked = all.length > 0 && chosen === all.length;
      head.indeterminate = chosen > 0 && chosen < all.length;
    });
  }

  document.addEventListener("change", (e) => {
    const box = e.target;
    if (!(box instanceof HTMLInputElement)) return;
    if (box.matches("[data-select-all]")) {
      rows().forEach((row) => { row.checked = box.checked; });
      refresh();
    } else if (box.matches("[data-select-row]")) {
      refresh();
    }
  });
  document.addEventListener("click", (e) => {
    if (!e.target.closest("[data-selection-clear]")) return;
    rows().forEach((row) => { row.checked = false; });
    refresh();
  });
  document.addEventListener("submit", (e) => {
    if (!e.target.matches("form[data-selection]")) return;
    const next = e.target.querySelector("[data-selection-next]");
    if (next) next.value = window.location.pathname + window.location.search;
  });
  // New results (a search, another page or order) come unselected.
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
