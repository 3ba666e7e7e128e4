// Small progressive enhancements; no inline scripts (CSP-friendly).
document.addEventListener("click", (e) => {
  const t = e.target.closest("[data-toggle-nav]");
  if (t) document.getElementById("sidenav")?.classList.toggle("open");
});
document.addEventListener("change", (e) => {
  if (e.target.matches("[data-autosubmit]")) e.target.form.submit();
});
