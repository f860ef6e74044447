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
// Charts (ov-): a printed page shows each chart's data table, folded on screen.
window.addEventListener("beforeprint", function () {
  document.querySelectorAll(".chart details").forEach(function (d) { d.open = true; });
});
// Execution form (ui/execution): reasons only for «Не выполнено», comment only for «Выполнено»;
// «Найти» fills the executor's name from the organisations API without a round trip; a chosen
// signature file is read into the signature field.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-ex-result]").forEach(function (sel) {
    var row = sel.closest(".ex-row");
    function sync() {
      row.querySelectorAll("[data-ex-when]").forEach(function (el) {
        // Kept visible while it holds something or an error, so nothing is sent unseen.
        var filled = el.querySelector(".field-error, input:checked") ||
          Array.prototype.some.call(el.querySelectorAll("textarea"), function (t) { return t.value.trim(); });
        var show = !sel.value || el.getAttribute("data-ex-when") === sel.value || !!filled;
        el.classList.toggle("ex-hidden", !show);
      });
    }
    sel.addEventListener("change", sync);
    sync();
  });
  var orgs = null;
  document.querySelectorAll("button[data-ex-lookup]").forEach(function (btn) {
    btn.addEventListener("click", function (e) {
      var i = btn.getAttribute("data-ex-lookup");
      var ogrn = document.getElementById("r" + i + "-executor_ogrn");
      var name = document.getElementById("r" + i + "-executor_name");
      if (!ogrn || !name || !window.fetch) return;
      e.preventDefault();
      var box = btn.closest(".ex-field");
      var old = box.querySelector(".ex-lookup-msg");
      if (old) old.remove();
      function say(text, bad) {
        var p = document.createElement("p");
        p.className = "ex-lookup-msg " + (bad ? "field-error" : "muted");
        p.setAttribute("role", bad ? "alert" : "status");
        p.textContent = text;
        box.appendChild(p);
      }
      (orgs ? Promise.resolve(orgs) : fetch("/api/v1/organisations", {credentials: "same-origin"})
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (list) { orgs = list; return list; }))
        .then(function (list) {
          var v = ogrn.value.trim();
          var found = list.filter(function (o) { return o.ogrn === v; })[0];
          if (found) { name.value = found.name; say("Наименование исполнителя найдено по ОГРН.", false); }
          else say("Организация с ОГРН «" + v + "» не найдена в справочнике организаций", true);
        })
        .catch(function () { btn.form.requestSubmit ? btn.form.requestSubmit(btn) : btn.form.submit(); });
    });
  });
  document.querySelectorAll("input[data-ex-sigfile]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-ex-sigfile"));
      var file = input.files && input.files[0];
      if (!file || !target) return;
      var reader = new FileReader();
      reader.onload = function () {
        var bytes = new Uint8Array(reader.result);
        var text = "";
        for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
        // PEM stays as it is; binary DER goes as Base64.
        target.value = text.indexOf("-----BEGIN") >= 0 ? text : btoa(text);
      };
      reader.readAsArrayBuffer(file);
    });
  });
});
// Administration forms (ui/admin): after a refused post, the first field with an error gets the focus.
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector("main form[class*='adm-'] [aria-invalid=true]");
  if (first) first.focus();
});
// Organisation fields of a large directory (stats.rs `OrganisationField`): as one types, the
// suggestions are fetched from the organisations API (within the field's section) into its list;
// without the script the server still understands an OGRN or words of one name.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[data-org-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var section = input.getAttribute("data-org-suggest");
    var timer = null;
    var asked = "";
    if (!list || !window.fetch) return;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = input.value.trim();
        if (text.length < 2 || text === asked) return;
        asked = text;
        var url = "/api/v1/organisations?limit=20&q=" + encodeURIComponent(text) +
          (section ? "&section=" + encodeURIComponent(section) : "");
        fetch(url, {credentials: "same-origin"})
          .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
          .then(function (found) {
            if (asked !== text) return;
            list.textContent = "";
            found.forEach(function (o) {
              var option = document.createElement("option");
              option.value = o.ogrn;
              option.textContent = o.name + (o.active ? "" : " (не действует)");
              list.appendChild(option);
            });
          })
          .catch(function () { /* the field still takes an OGRN or a name */ });
      }, 200);
    });
  });
});
