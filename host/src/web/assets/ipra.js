// ipra — progressive enhancement only: every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Mark the current menu entry.
  var here = location.pathname;
  document.querySelectorAll("nav.main a").forEach(function (a) {
    var p = a.getAttribute("href");
    if (p === here || (p !== "/" && here.indexOf(p) === 0)) a.setAttribute("aria-current", "page");
  });
  // Buttons that need a confirmation: <button data-confirm="Текст вопроса">.
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (e) {
      if (!window.confirm(el.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // Selects that submit their form on change: <select data-autosubmit>.
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { if (el.form) el.form.submit(); });
  });
});
// Administration forms (ui/admin): after a refused post, the first field with an error gets the focus.
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector("main form[class*='adm-'] [aria-invalid=true]");
  if (first) first.focus();
});
