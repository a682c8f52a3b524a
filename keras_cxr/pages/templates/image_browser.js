(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("browser-data").textContent);
  const grid = document.getElementById("browser-grid");
  if (data.has_truth === false) grid.classList.add("overlays");
  const byId = (id) => document.getElementById(id);
  const controls = ["filter-true", "filter-predicted", "filter-group", "filter-wrong", "sort"].map(byId).filter(Boolean);
  const pct = (p) => (100 * p).toFixed(1) + "%";

  function open(item) {
    byId("modal-title").textContent = item.name;
    let text = "predicted " + item.predicted + " (" + pct(item.confidence) + ")";
    if (item.true !== null) text = "true " + item.true + ", " + text + ", " + (item.correct ? "correct" : "MISCLASSIFIED");
    if (item.group !== null) text += "; " + (data.group_by || "group") + " " + item.group;
    if (item.set) text += "; conformal set {" + item.set.join(", ") + "}";
    byId("modal-summary").textContent = text;
    byId("modal-image").src = item.image;
    byId("modal-image").parentElement.querySelector("figcaption").textContent = item.overlay ? "X-ray" : "";
    const overlay = byId("modal-overlay");
    overlay.hidden = !item.overlay;
    byId("modal-overlay-caption").hidden = !item.overlay;
    if (item.overlay) overlay.src = item.overlay;
    const holder = byId("modal-bars");
    holder.replaceChildren(probabilityBars(item.probabilities, item.predicted));
    byId("modal-path").textContent = item.path;
    byId("browser-modal").hidden = false;
  }

  function sorted(items) {
    const mode = byId("sort").value;
    const copy = items.slice();
    if (mode === "errors") copy.sort((a, b) => (a.correct - b.correct) || (a.correct ? a.confidence - b.confidence : b.confidence - a.confidence));
    if (mode === "given") copy.sort((a, b) => a.index - b.index);
    if (mode === "confidence-asc") copy.sort((a, b) => a.confidence - b.confidence);
    if (mode === "confidence-desc") copy.sort((a, b) => b.confidence - a.confidence);
    if (mode === "name") copy.sort((a, b) => a.name.localeCompare(b.name));
    return copy;
  }

  function draw() {
    const value = (id) => (byId(id) ? byId(id).value : "");
    const want = {
      true: value("filter-true"),
      predicted: value("filter-predicted"),
      group: value("filter-group"),
      wrong: byId("filter-wrong") ? byId("filter-wrong").checked : false,
    };
    const shown = sorted(data.items.filter((it) =>
      (!want.true || it.true === want.true) && (!want.predicted || it.predicted === want.predicted) &&
      (!want.group || it.group === want.group) && (!want.wrong || !it.correct)));
    grid.replaceChildren();
    for (const item of shown) {
      const cell = document.createElement("div");
      cell.className = "thumb" + (item.correct === false ? " wrong" : "");
      cell.dataset.true = item.true;
      cell.dataset.predicted = item.predicted;
      cell.innerHTML = '<img alt=""><div class="cap"><div class="name"></div><div class="pred"></div></div>';
      const img = cell.querySelector("img");
      if (!item.thumbnail.startsWith("data:")) img.loading = "lazy";  // linked overlay files: load on scroll
      img.src = item.thumbnail;
      cell.querySelector(".name").textContent = item.name;
      const pred = cell.querySelector(".pred");
      pred.textContent = (item.correct === false ? "true " + item.true + " → " : "") + item.predicted + " " + pct(item.confidence);
      pred.className = "pred " + (item.correct === false ? "bad" : item.correct ? "ok" : "");
      cell.addEventListener("click", () => open(item));
      grid.appendChild(cell);
    }
    byId("browser-count").textContent = shown.length + " shown";
  }

  controls.forEach((el) => el.addEventListener("change", draw));
  byId("browser-close").addEventListener("click", () => { byId("browser-modal").hidden = true; });
  byId("browser-modal").addEventListener("click", (e) => { if (e.target.id === "browser-modal") e.target.hidden = true; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") byId("browser-modal").hidden = true; });
  draw();
})();
