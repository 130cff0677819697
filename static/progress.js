/* Progress for slow Excel work: a report download or an import check.

   Loaded as a static file, so the strict Content-Security-Policy (script-src 'self', nothing
   inline, no eval) holds. Everything it needs comes from data attributes in the page:

   - <a data-progress data-status="ID" data-busy="..." data-done="..." data-failed="...">:
     the report is fetched here while the link is disabled and the status says it is being
     prepared; when the file is complete its download starts by itself. A failed report puts
     data-failed in the status and gives the link back.
   - <form data-progress data-status="ID" data-busy="...">, optional data-busy on its buttons:
     on submit every button is disabled and the status shows the button's (or the form's) text.

   The element with id ID is a role="status" region, so screen readers announce each change.
   Without JavaScript the link downloads and the form posts as plain HTML does. */
(function () {
  "use strict";

  var XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

  function say(element, text) {
    var region = document.getElementById(element.getAttribute("data-status") || "");
    if (region) {
      region.textContent = text || "";
      region.classList.toggle("failed", element.getAttribute("data-failed") === text && !!text);
    }
  }

  function setBusy(element, busy) {
    element.classList.toggle("busy", busy);
    if (busy) {
      element.setAttribute("aria-disabled", "true");
    } else {
      element.removeAttribute("aria-disabled");
    }
  }

  // The name the server gave the file (RFC 6266: filename* first, then filename).
  function fileName(response, fallback) {
    var header = response.headers.get("Content-Disposition") || "";
    var encoded = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (encoded) {
      try {
        return decodeURIComponent(encoded[1]);
      } catch (ignored) {
        /* fall through to the plain name */
      }
    }
    var plain = /filename="?([^";]+)"?/i.exec(header);
    return plain ? plain[1] : fallback;
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    // The browser has the file once the download started; free the memory a little later.
    window.setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 60000);
  }

  function download(link) {
    if (link.getAttribute("aria-disabled") === "true") {
      return; // a second click while the report is prepared starts nothing
    }
    setBusy(link, true);
    say(link, link.getAttribute("data-busy"));
    fetch(link.href, { credentials: "same-origin" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        // An error page, or the login page after an expired session, is not the report.
        if (!response.ok || type.indexOf(XLSX) !== 0) {
          throw new Error("no report");
        }
        return response.blob().then(function (blob) {
          save(blob, fileName(response, link.getAttribute("download") || "report.xlsx"));
          setBusy(link, false);
          say(link, link.getAttribute("data-done"));
        });
      })
      .catch(function () {
        setBusy(link, false);
        say(link, link.getAttribute("data-failed"));
      });
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var link = target && target.closest("a[data-progress]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return;
    }
    if (!window.fetch || !window.URL || !URL.createObjectURL) {
      return; // an old browser: the plain download
    }
    event.preventDefault();
    download(link);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-progress")) {
      return;
    }
    if (form.getAttribute("aria-busy") === "true") {
      event.preventDefault(); // sent already: a second press does not send it twice
      return;
    }
    var submitter = event.submitter || null;
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button, input[type=submit]"));
    form.setAttribute("aria-busy", "true");
    buttons.forEach(function (button) {
      setBusy(button, true);
    });
    say(form, (submitter && submitter.getAttribute("data-busy")) || form.getAttribute("data-busy"));
    // A disabled button is left out of what the form sends, the submitter too: its name and
    // value (the preview's "action") go along in a hidden field instead.
    if (submitter && submitter.name) {
      var carried = document.createElement("input");
      carried.type = "hidden";
      carried.name = submitter.name;
      carried.value = submitter.value;
      carried.setAttribute("data-carried", "");
      form.appendChild(carried);
    }
    buttons.forEach(function (button) {
      button.disabled = true;
    });
  });

  // Back to a page kept in the browser's cache: its forms and links work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-progress]").forEach(function (form) {
      form.removeAttribute("aria-busy");
      form.querySelectorAll("input[data-carried]").forEach(function (input) {
        input.remove();
      });
      form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
        button.disabled = false;
        setBusy(button, false);
      });
      say(form, "");
    });
    document.querySelectorAll("a[data-progress]").forEach(function (link) {
      setBusy(link, false);
      say(link, "");
    });
  });
})();
