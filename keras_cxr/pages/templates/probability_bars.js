// One bar per class probability (shared by the report's image browser and the serve page).
function probabilityBars(probabilities, predicted) {
  "use strict";
  const box = document.createElement("div");
  for (const [name, p] of Object.entries(probabilities || {})) {
    const row = document.createElement("div");
    const pct = (100 * p).toFixed(1) + "%";
    row.className = "bar" + (name === predicted ? " top" : "");
    row.dataset.class = name;
    row.dataset.probability = String(p);
    row.innerHTML = '<span class="cls"></span><span class="track"><span class="fill"></span></span><span class="num"></span>';
    row.querySelector(".cls").textContent = name;
    row.querySelector(".fill").style.width = pct;
    row.querySelector(".num").textContent = pct;
    box.appendChild(row);
  }
  return box;
}
