// BoxEditor: boxes over one page image, drawn and adjusted with mouse, touch or keyboard.
// Shared by the review station (/review) and the self-check page. Plain JavaScript, no
// third-party code, nothing inline (the CSP allows neither).
//
//   const editor = new BoxEditor(container, {image, width, height, page, proposed, text, onChange});
//   editor.add()       a new box in the middle of the page, selected (keyboard users start here)
//   editor.added()     [{page, box: [x0, y0, x1, y1], kind}] in the page's own pixels
//   editor.dropped()   ids of proposed boxes the user switched off
//   editor.mark(list)  outline what verification still saw ([{box, why}]), in red
//
// Keyboard, on a focused box: arrows move it (Shift: faster), Alt+arrows (or Ctrl+arrows)
// change its size, Delete or Backspace removes a drawn box or switches a proposed one off/on.
"use strict";

(function () {
  const MIN_SIDE = 4; // page pixels: a click is not a box

  function clamp(v, lo, hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  class BoxEditor {
    constructor(container, options) {
      this.width = options.width;
      this.height = options.height;
      this.page = options.page || 0;
      this.text = Object.assign(
        {
          stage: "Page: drag to draw a box",
          box: "Box {n}",
          proposed: "Proposed box {n} ({kind})",
          off: "switched off",
          remove: "Remove box",
          toggle: "Switch box off or on",
        },
        options.text || {}
      );
      this.onChange = options.onChange || function () {};
      this.boxes = [];
      this.counter = 0;
      this.stage = document.createElement("div");
      this.stage.className = "box-stage";
      this.stage.setAttribute("role", "group");
      this.stage.tabIndex = -1;
      this.stage.setAttribute("aria-label", this.text.stage);
      this.img = document.createElement("img");
      this.img.src = options.image;
      this.img.alt = options.alt || "";
      this.img.draggable = false;
      this.stage.appendChild(this.img);
      this.layer = document.createElement("div");
      this.layer.className = "box-layer";
      this.stage.appendChild(this.layer);
      container.appendChild(this.stage);
      for (const p of options.proposed || []) {
        this._create({ source: "proposed", id: p.id, kind: p.kind, box: p.box.slice() });
      }
      this._listen();
    }

    // --- public -------------------------------------------------------------------------

    add() {
      const w = this.width * 0.2, h = this.height * 0.1;
      const x0 = (this.width - w) / 2, y0 = (this.height - h) / 2;
      const b = this._create({ source: "drawn", kind: "other", box: [x0, y0, x0 + w, y0 + h] });
      b.el.focus();
      this.onChange();
      return b;
    }

    added() {
      return this.boxes
        .filter((b) => b.source === "drawn")
        .map((b) => ({ page: this.page, box: b.box.map((v) => Math.round(v)), kind: b.kind }));
    }

    dropped() {
      return this.boxes.filter((b) => b.source === "proposed" && b.off).map((b) => b.id);
    }

    mark(leftovers) {
      for (const el of this.layer.querySelectorAll(".box-leftover")) el.remove();
      for (const l of leftovers || []) {
        const el = document.createElement("div");
        el.className = "box-leftover";
        el.title = l.why || "";
        this._place(el, l.box);
        this.layer.appendChild(el);
      }
    }

    // --- boxes --------------------------------------------------------------------------

    _create(spec) {
      const b = Object.assign({ off: false }, spec);
      b.n = ++this.counter;
      b.el = document.createElement("div");
      b.el.className = "box box-" + b.source;
      b.el.tabIndex = 0;
      b.el.setAttribute("role", "button");
      b.el.dataset.kind = b.kind;
      const close = document.createElement("button");
      close.type = "button";
      close.className = "box-close";
      close.textContent = "×";
      close.tabIndex = -1; // Delete on the focused box does the same
      close.setAttribute("aria-label", b.source === "drawn" ? this.text.remove : this.text.toggle);
      close.addEventListener("click", (e) => {
        e.stopPropagation();
        this._remove(b);
      });
      const handle = document.createElement("span");
      handle.className = "box-handle";
      b.el.append(close, handle);
      b.el.addEventListener("keydown", (e) => this._key(e, b));
      b.el.addEventListener("pointerdown", (e) => this._grab(e, b, e.target === handle ? "resize" : "move"));
      this.layer.appendChild(b.el);
      this.boxes.push(b);
      this._update(b);
      return b;
    }

    _label(b) {
      const t = b.source === "drawn" ? this.text.box : this.text.proposed;
      const label = t.replace("{n}", b.n).replace("{kind}", b.kind);
      return b.off ? label + ", " + this.text.off : label;
    }

    _update(b) {
      this._place(b.el, b.box);
      b.el.classList.toggle("box-off", b.off);
      b.el.setAttribute("aria-label", this._label(b));
      b.el.setAttribute("aria-pressed", b.source === "proposed" ? String(!b.off) : "true");
    }

    _place(el, box) {
      el.style.left = (100 * box[0]) / this.width + "%";
      el.style.top = (100 * box[1]) / this.height + "%";
      el.style.width = (100 * (box[2] - box[0])) / this.width + "%";
      el.style.height = (100 * (box[3] - box[1])) / this.height + "%";
    }

    _remove(b) {
      if (b.source === "proposed") {
        b.off = !b.off;
        this._update(b);
        b.el.focus();
      } else {
        const i = this.boxes.indexOf(b);
        const next = this.boxes[i + 1] || this.boxes[i - 1];
        this.boxes.splice(i, 1);
        b.el.remove();
        (next ? next.el : this.stage).focus();
      }
      this.onChange();
    }

    _set(b, box) {
      let [x0, y0, x1, y1] = box;
      const w = Math.max(MIN_SIDE, x1 - x0), h = Math.max(MIN_SIDE, y1 - y0);
      x0 = clamp(x0, 0, this.width - w);
      y0 = clamp(y0, 0, this.height - h);
      b.box = [x0, y0, Math.min(this.width, x0 + w), Math.min(this.height, y0 + h)];
      this._update(b);
    }

    // --- keyboard -----------------------------------------------------------------------

    _key(e, b) {
      const step = (e.shiftKey ? 0.05 : 0.01) * Math.max(this.width, this.height);
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
      if (d) {
        e.preventDefault();
        const [x0, y0, x1, y1] = b.box;
        if (e.altKey || e.ctrlKey) this._set(b, [x0, y0, x1 + d[0], y1 + d[1]]);
        else this._set(b, [x0 + d[0], y0 + d[1], x1 + d[0], y1 + d[1]]);
        this.onChange();
      } else if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        this._remove(b);
      }
    }

    // --- pointer (mouse, pen, touch) ----------------------------------------------------

    _point(e) {
      const r = this.stage.getBoundingClientRect();
      return [
        clamp(((e.clientX - r.left) / r.width) * this.width, 0, this.width),
        clamp(((e.clientY - r.top) / r.height) * this.height, 0, this.height),
      ];
    }

    _grab(e, b, mode) {
      if (e.button !== 0 || e.target.classList.contains("box-close")) return;
      e.preventDefault();
      e.stopPropagation();
      b.el.focus();
      this.drag = { b, mode, start: this._point(e), box: b.box.slice() };
      this.stage.setPointerCapture(e.pointerId);
    }

    _listen() {
      this.stage.addEventListener("pointerdown", (e) => {
        if (e.button !== 0 || e.target.closest(".box")) return;
        e.preventDefault();
        const p = this._point(e);
        const b = this._create({ source: "drawn", kind: "other", box: [p[0], p[1], p[0] + MIN_SIDE, p[1] + MIN_SIDE] });
        this.drag = { b, mode: "draw", start: p, box: b.box.slice() };
        this.stage.setPointerCapture(e.pointerId);
      });
      this.stage.addEventListener("pointermove", (e) => {
        const d = this.drag;
        if (!d) return;
        const p = this._point(e);
        const dx = p[0] - d.start[0], dy = p[1] - d.start[1];
        const [x0, y0, x1, y1] = d.box;
        if (d.mode === "draw") {
          const box = [Math.min(d.start[0], p[0]), Math.min(d.start[1], p[1]), Math.max(d.start[0], p[0]), Math.max(d.start[1], p[1])];
          d.b.box = box;
          this._update(d.b);
        } else if (d.mode === "move") {
          this._set(d.b, [x0 + dx, y0 + dy, x1 + dx, y1 + dy]);
        } else {
          this._set(d.b, [x0, y0, x1 + dx, y1 + dy]);
        }
      });
      const end = () => {
        const d = this.drag;
        if (!d) return;
        this.drag = null;
        const [x0, y0, x1, y1] = d.b.box;
        if (d.mode === "draw" && (x1 - x0 < MIN_SIDE * 2 || y1 - y0 < MIN_SIDE * 2)) {
          this._remove(d.b); // a click, not a box
          return;
        }
        if (d.mode === "draw") d.b.el.focus();
        this.onChange();
      };
      this.stage.addEventListener("pointerup", end);
      this.stage.addEventListener("pointercancel", end);
    }
  }

  window.BoxEditor = BoxEditor;
})();
