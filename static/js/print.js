// Print views (学籍卡, 转学申请表): the "打印" button opens the browser's print dialog. A file, not an inline
// script: the site's CSP allows scripts from 'self' only.
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
