// Small progressive enhancements; no inline scripts (CSP-friendly).
document.addEventListener("click", (e) => {
  const t = e.target.closest("[data-toggle-nav]");
  if (t) document.getElementById("sidenav")?.classList.toggle("open");
});
document.addEventListener("change", (e) => {
  if (e.target.matches("[data-autosubmit]")) e.target.form.submit();
});
// A refused sensitive read (429 操作过于频繁) is shown in place like an answer, so the user sees why.
document.addEventListener("htmx:beforeSwap", (e) => {
  if (e.detail.xhr.status === 429) {
    e.detail.shouldSwap = true;
    e.detail.isError = false;
  }
});
// A destructive button asks first: <button data-confirm="确定删除…？"> (the server checks everything anyway).
document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-confirm]");
  if (b && !window.confirm(b.dataset.confirm)) e.preventDefault();
});
