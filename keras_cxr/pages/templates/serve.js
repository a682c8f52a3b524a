(function () {
  "use strict";
  const model = JSON.parse(document.getElementById("model-data").textContent);
  const byId = (id) => document.getElementById(id);
  const results = byId("results");
  const template = byId("result-template");
  const pct = (p) => (100 * p).toFixed(1) + "%";

  function show(file, status, body) {
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.file = file.name;
    node.querySelector(".file").textContent = file.name;
    if (!body || body.error || status >= 400) {
      node.classList.add("error");
      node.querySelector(".summary").textContent = (body && body.error) || (file.name + ": the server answered " + status);
      node.querySelector(".pair").remove();
      results.prepend(node);
      return;
    }
    let text = "predicted " + body.predicted + " (" + pct(body.probabilities[body.predicted]) + ")";
    text += model.temperature ? ", calibrated" : ", uncalibrated";
    if (body.set) {
      const name = body.set.length === 0 ? "no class fits" : body.set.length > 1 ? "ambiguous" : "one class";
      text += "; conformal set at " + pct(body.coverage) + ": {" + body.set.join(", ") + "} (" + name + ")";
    }
    node.querySelector(".summary").textContent = text;
    node.querySelector(".bars").appendChild(probabilityBars(body.probabilities, body.predicted));
    node.querySelector(".original").src = body.image;
    if (body.gradcam) {
      node.querySelector(".gradcam").src = body.gradcam;
      node.querySelector(".gradcam-caption").textContent = "Grad-CAM of " + body.predicted;
    } else {
      node.querySelector(".gradcam-figure").remove();
    }
    node.querySelector(".model-input").src = body.model_input;
    node.querySelector(".input-caption").textContent = "what the model saw: " + model.input_size + "x" + model.input_size + " px after its preprocessing";
    results.prepend(node);
  }

  async function send(files) {
    const bar = byId("progress");
    bar.hidden = false;
    bar.max = files.length;
    bar.value = 0;
    for (let i = 0; i < files.length; i++) {
      byId("progress-text").textContent = "analysing " + (i + 1) + " of " + files.length + ": " + files[i].name;
      const form = new FormData();
      form.append("file", files[i], files[i].name);
      let status = 0, body = null;
      try {
        const answer = await fetch("api/predict", { method: "POST", body: form });
        status = answer.status;
        try { body = await answer.json(); } catch (e) { body = null; }
      } catch (e) {
        body = { error: files[i].name + ": the server could not be reached (" + e + ")" };
      }
      show(files[i], status, body);
      bar.value = i + 1;
    }
    byId("progress-text").textContent = files.length + " of " + files.length + " done";
    document.body.dataset.done = String(Number(document.body.dataset.done || 0) + files.length);
  }

  byId("files").addEventListener("change", (e) => { send(Array.from(e.target.files)); e.target.value = ""; });
  const drop = byId("drop");
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => send(Array.from(e.dataTransfer.files)));
})();
