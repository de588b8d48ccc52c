// report.html: tooltips on the charts' points and layers, legend and zoom toggles, sortable
// tables. The figures themselves are SVG written by analogc; this script only adds to them.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("analogc-data").textContent);
  const tip = document.getElementById("tooltip");
  let pinned = null;

  const esc = (text) =>
    String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const fields = (pairs) => pairs.map(([k, v]) => `<div><b>${esc(k)}</b> ${esc(v)}</div>`).join("");

  function pointHtml(point) {
    const repeats = point.repeats
      .map((n, i) => `<div><span>${esc(data.layers[i])}</span><span>N = ${n}</span></div>`)
      .join("");
    return `<h4>${esc(point.label)}</h4>${fields(point.fields)}<div class="reps">${repeats}</div>`;
  }

  function layerHtml(row) {
    return `<h4>${esc(row.name)}</h4>${fields(row.fields)}`;
  }

  function content(target) {
    if (target.dataset.p !== undefined) return pointHtml(data.points[Number(target.dataset.p)]);
    return layerHtml(data.rows[Number(target.dataset.layer)]);
  }

  function place(x, y) {
    const pad = 14;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    let left = x + pad;
    let top = y + pad;
    if (left + w > window.innerWidth - 4) left = Math.max(4, x - w - pad);
    if (top + h > window.innerHeight - 4) top = Math.max(4, window.innerHeight - h - 4);
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }

  function show(target, event) {
    tip.innerHTML = content(target);
    tip.hidden = false;
    place(event.clientX, event.clientY);
  }

  function unpin() {
    if (pinned) pinned.classList.remove("pinned");
    pinned = null;
    tip.classList.remove("pinned");
    tip.hidden = true;
  }

  const hoverable = (node) => (node instanceof Element ? node.closest("[data-p], [data-layer]") : null);

  document.addEventListener("mouseover", (event) => {
    const target = hoverable(event.target);
    if (target && !pinned) show(target, event);
  });
  document.addEventListener("mousemove", (event) => {
    if (!pinned && !tip.hidden) place(event.clientX, event.clientY);
  });
  document.addEventListener("mouseout", (event) => {
    if (pinned || !hoverable(event.target)) return;
    if (hoverable(event.relatedTarget) !== hoverable(event.target)) tip.hidden = true;
  });
  document.addEventListener("click", (event) => {
    const target = hoverable(event.target);
    if (target && target.dataset.p !== undefined && target !== pinned) {
      unpin();
      show(target, event);
      pinned = target;
      target.classList.add("pinned");
      tip.classList.add("pinned");
    } else if (!tip.contains(event.target)) {
      unpin();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") unpin();
  });

  // The script's tooltips replace the native ones (kept in the file for readers without it).
  for (const title of document.querySelectorAll("svg [data-p] > title, svg [data-layer] > title")) {
    title.parentElement.setAttribute("aria-label", title.textContent);
    title.remove();
  }

  for (const button of document.querySelectorAll(".legend button")) {
    button.addEventListener("click", () => {
      const off = button.getAttribute("aria-pressed") === "true";
      button.setAttribute("aria-pressed", String(!off));
      const figure = button.closest("figure");
      for (const node of figure.querySelectorAll(`.s-${button.dataset.series}`)) {
        node.classList.toggle("series-off", off);
      }
    });
  }

  for (const button of document.querySelectorAll(".zoom button")) {
    button.addEventListener("click", () => {
      const figure = button.closest("figure");
      for (const other of figure.querySelectorAll(".zoom button")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      for (const view of figure.querySelectorAll("svg[data-view]")) {
        view.classList.toggle("hidden", view.dataset.view !== button.dataset.view);
      }
      unpin();
    });
  }

  for (const table of document.querySelectorAll("table.sortable")) {
    const headers = [...table.querySelectorAll("th")];
    headers.forEach((th, column) => {
      th.classList.add("sortable");
      th.addEventListener("click", () => {
        const descending = th.classList.contains("sorted-asc");
        headers.forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
        th.classList.add(descending ? "sorted-desc" : "sorted-asc");
        const body = table.tBodies[0];
        const key = (row) => {
          const cell = row.cells[column];
          const value = cell.dataset.v;
          return value === undefined ? cell.textContent : value === "" ? -Infinity : Number(value);
        };
        const rows = [...body.rows].sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return descending ? -order : order;
        });
        body.append(...rows);
      });
    });
  }
})();
