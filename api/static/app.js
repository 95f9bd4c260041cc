// Self-check page: upload an ID, show the redacted copy from POST /v1/self-check.
// Plain JavaScript, no build step, no third-party code; works under a strict CSP (no inline code).
"use strict";

(function () {
  const TEXT = {
    nl: {
      page_title: "Controleer je ID-kopie",
      skip: "Naar de inhoud",
      brand: "ID-kopie controle",
      other_lang: "English",
      other_lang_label: "Switch to English",
      title: "Controleer je ID-kopie voordat je hem verstuurt",
      intro: "Kies een foto of scan van je paspoort, identiteitskaart of rijbewijs. Wij maken je BSN en je pasfoto's onleesbaar en laten je het resultaat zien. Er wordt niets bewaard, tenzij je zelf op versturen drukt.",
      step1: "1. Kies je document",
      choose: "Kies een bestand",
      camera: "Maak een foto",
      file_hint: "JPEG, PNG, TIFF, HEIC, WebP of PDF, maximaal {mb} MB. Je kunt een bestand ook hierheen slepen.",
      chosen: "Gekozen: {name} ({size})",
      step2: "2. Watermerk (niet verplicht)",
      purpose_label: "Tekst die schuin over de kopie komt",
      purpose_hint: "Zoals in de KopieID-app: voor wie en waarvoor de kopie is, en de datum.",
      purpose_placeholder: "Kopie voor … - AVG-verzoek - {date}",
      submit: "Controleer mijn document",
      no_file: "Kies eerst een foto of scan van je document.",
      uploading: "Versturen naar de controle… {pct}%",
      processing: "Bezig met afschermen. Dit kan een halve minuut duren.",
      started: "Je document wordt gecontroleerd.",
      result_title: "Zo ziet je kopie eruit",
      page_of: "Pagina {n} van {total}",
      legend_title: "Zwart gemaakt",
      legend_none: "Niets: er is geen BSN en geen pasfoto gevonden.",
      facts_title: "Over je document",
      check_note: "Kijk zelf ook even: is alles wat je niet wilt delen onleesbaar?",
      download_file: "Download de afgeschermde kopie",
      download_record: "Download het verificatierecord",
      send_intro: "Klopt alles? Stuur deze afgeschermde kopie dan direct naar de organisatie.",
      send: "Verstuur naar de organisatie",
      sending: "Bezig met versturen…",
      sent: "Verstuurd. Bewaar je kenmerk en noem het als je contact opneemt.",
      ref_label: "Je kenmerk:",
      copy: "Kopieer",
      copied: "Gekopieerd",
      zoom: "Vergroot pagina {n}",
      zoom_title: "Je kopie, vergroot",
      close: "Sluiten",
      send_failed: "Versturen is niet gelukt. Probeer het later opnieuw, of download de kopie en stuur hem zelf.",
      send_expired: "Dit resultaat is te oud om te versturen. Controleer je document opnieuw.",
      again: "Een ander document controleren",
      details: "Technische details",
      why_title: "Waarom",
      steps_title: "Wat je kunt doen",
      tips_title: "Andere tips",
      draw_title: "Zelf afschermen",
      draw_intro: "Sleep met je vinger of muis een vak over het nummer of de foto die weg moet. Een vak kun je verschuiven; met het gele hoekje maak je het groter of kleiner.",
      draw_keys: "Met het toetsenbord: druk op Vak toevoegen, verschuif het vak met de pijltjestoetsen (met Shift sneller), maak het groter of kleiner met Alt en de pijltjestoetsen, en haal het weg met Delete.",
      draw_legend_mine: "Zwart met gele rand: jouw vakken",
      draw_legend_planned: "Grijs met blauwe stippellijn: maken wij al zwart",
      draw_legend_left: "Rood omlijnd: hier zien we na het afschermen nog iets",
      draw_add: "Vak toevoegen",
      draw_add_page: "Vak toevoegen op pagina {n}",
      draw_stage: "Pagina {n} van je document: sleep om een vak te tekenen",
      draw_alt: "Je document zoals je het stuurde, pagina {n}",
      draw_box: "Jouw vak {n}",
      draw_remove: "Vak weghalen",
      draw_check: "Controleer opnieuw",
      draw_stored: "Er wordt nog steeds niets bewaard, tenzij je na de controle op versturen drukt.",
      draw_none: "Trek eerst een vak over wat weg moet, of druk op Vak toevoegen.",
      draw_leftovers: "Op de rood omlijnde plekken zien we nog iets. Maak je vak daar groter of trek er een nieuw vak overheen, en controleer opnieuw.",
      done: "Klaar. {description}",
      footer: "Je document wordt alleen in het geheugen verwerkt en daarna vergeten. Er wordt niets opgeslagen, tenzij je op versturen drukt.",
      problem: {
        too_large: ["Het bestand is te groot", "Dit bestand is groter dan {mb} MB.", [
          "Stel je camera in op een lagere resolutie of maak een schermafbeelding van de foto.",
          "Sla een scan op als JPEG in plaats van TIFF.",
        ]],
        too_many_pages: ["De pdf heeft te veel pagina's", "Een pdf mag hoogstens {pages} pagina's hebben.", [
          "Stuur alleen de pagina's met je document (bij een identiteitskaart: voor- en achterkant).",
        ]],
        unreadable: ["We kunnen dit bestand niet lezen", "Dit lijkt geen foto of scan te zijn, of het bestand is beschadigd.", [
          "Kies een foto (JPEG, PNG, HEIC, WebP), een scan (TIFF) of een pdf.",
          "Een tekst- of Word-bestand werkt niet: maak een foto of scan van het document zelf.",
          "Maak de foto of scan opnieuw als het bestand misschien beschadigd is.",
        ]],
        encrypted: ["De pdf is beveiligd", "Deze pdf is met een wachtwoord beveiligd, daardoor kunnen we hem niet openen.", [
          "Haal het wachtwoord van de pdf af, of maak een foto van je document.",
        ]],
        needs_review: ["We weten niet zeker of alles onleesbaar is", "Daarom laten we geen kopie zien en wordt er niets verstuurd of bewaard.", [
          "Is het een paspoort, identiteitskaart of rijbewijs? Andere documenten kunnen we niet controleren.",
          "Leg het document op een egale, donkere ondergrond en fotografeer recht van boven: het hele document in beeld, scherp en zonder schittering.",
          "Lukt het niet? Vraag de organisatie om een andere manier om te laten zien wie je bent.",
        ]],
        rate_limited: ["Even wachten", "Je hebt kort na elkaar veel documenten gecontroleerd.", [
          "Probeer het over {wait} opnieuw.",
        ]],
        busy: ["Het is nu erg druk", "De controle kan je document op dit moment niet aannemen.", [
          "Probeer het over een minuut opnieuw.",
        ]],
        timeout: ["Dit duurde te lang", "Het afschermen van je document duurde te lang en is afgebroken.", [
          "Probeer een kleinere of scherpere foto.",
          "Stuur bij een pdf alleen de pagina's met je document.",
        ]],
        purpose_too_long: ["De watermerktekst is te lang", "De tekst voor het watermerk mag hoogstens {chars} tekens hebben.", [
          "Maak de tekst korter, bijvoorbeeld: Kopie voor Gemeente X - AVG-verzoek - datum.",
        ]],
        network: ["Geen verbinding", "We konden de controle niet bereiken.", [
          "Controleer je internetverbinding en probeer het opnieuw.",
        ]],
        other: ["Er ging iets mis", "Het controleren is niet gelukt.", [
          "Probeer het later opnieuw.",
        ]],
      },
      seconds: "{n} seconden",
      a_minute: "een minuut",
    },
    en: {
      page_title: "Check your ID copy",
      skip: "Skip to content",
      brand: "ID copy check",
      other_lang: "Nederlands",
      other_lang_label: "Schakel naar Nederlands",
      title: "Check your ID copy before you send it",
      intro: "Choose a photo or scan of your passport, identity card or driving licence. We make your BSN (citizen service number) and your photos unreadable and show you the result. Nothing is kept unless you press send yourself.",
      step1: "1. Choose your document",
      choose: "Choose a file",
      camera: "Take a photo",
      file_hint: "JPEG, PNG, TIFF, HEIC, WebP or PDF, at most {mb} MB. You can also drag a file here.",
      chosen: "Chosen: {name} ({size})",
      step2: "2. Watermark (optional)",
      purpose_label: "Text written diagonally across the copy",
      purpose_hint: "As in the KopieID app: who the copy is for, what for, and the date.",
      purpose_placeholder: "Copy for … - GDPR request - {date}",
      submit: "Check my document",
      no_file: "First choose a photo or scan of your document.",
      uploading: "Sending to the check… {pct}%",
      processing: "Blacking out. This can take half a minute.",
      started: "Your document is being checked.",
      result_title: "This is what your copy looks like",
      page_of: "Page {n} of {total}",
      legend_title: "Blacked out",
      legend_none: "Nothing: no BSN and no photo were found.",
      facts_title: "About your document",
      check_note: "Have a look yourself too: is everything you do not want to share unreadable?",
      download_file: "Download the redacted copy",
      download_record: "Download the verification record",
      send_intro: "All good? Then send this redacted copy straight to the organisation.",
      send: "Send to the organisation",
      sending: "Sending…",
      sent: "Sent. Keep your reference and mention it when you get in touch.",
      ref_label: "Your reference:",
      copy: "Copy",
      copied: "Copied",
      zoom: "Enlarge page {n}",
      zoom_title: "Your copy, enlarged",
      close: "Close",
      send_failed: "Sending failed. Try again later, or download the copy and send it yourself.",
      send_expired: "This result is too old to send. Please check your document again.",
      again: "Check another document",
      details: "Technical details",
      why_title: "Why",
      steps_title: "What you can do",
      tips_title: "Other tips",
      draw_title: "Black it out yourself",
      draw_intro: "Drag a box with your finger or mouse over the number or photo that must go. You can move a box; the yellow corner makes it bigger or smaller.",
      draw_keys: "With the keyboard: press Add box, move the box with the arrow keys (faster with Shift), make it bigger or smaller with Alt and the arrow keys, and remove it with Delete.",
      draw_legend_mine: "Black with a yellow edge: your boxes",
      draw_legend_planned: "Grey with a blue dashed line: we black this out already",
      draw_legend_left: "Red outline: we still see something here after blacking out",
      draw_add: "Add box",
      draw_add_page: "Add box on page {n}",
      draw_stage: "Page {n} of your document: drag to draw a box",
      draw_alt: "Your document as you sent it, page {n}",
      draw_box: "Your box {n}",
      draw_remove: "Remove box",
      draw_check: "Check again",
      draw_stored: "Still nothing is kept, unless you press send after the check.",
      draw_none: "First draw a box over what must go, or press Add box.",
      draw_leftovers: "We still see something in the places outlined in red. Make your box bigger there or draw a new box over it, then check again.",
      done: "Done. {description}",
      footer: "Your document is processed in memory only and then forgotten. Nothing is stored unless you press send.",
      problem: {
        too_large: ["The file is too large", "This file is larger than {mb} MB.", [
          "Set your camera to a lower resolution or take a screenshot of the photo.",
          "Save a scan as JPEG instead of TIFF.",
        ]],
        too_many_pages: ["The PDF has too many pages", "A PDF may have at most {pages} pages.", [
          "Send only the pages with your document (for an identity card: front and back).",
        ]],
        unreadable: ["We cannot read this file", "This does not seem to be a photo or scan, or the file is damaged.", [
          "Choose a photo (JPEG, PNG, HEIC, WebP), a scan (TIFF) or a PDF.",
          "A text or Word file does not work: take a photo or scan of the document itself.",
          "Take the photo or scan again if the file may be damaged.",
        ]],
        encrypted: ["The PDF is protected", "This PDF is protected with a password, so we cannot open it.", [
          "Remove the password from the PDF, or take a photo of your document.",
        ]],
        needs_review: ["We are not sure everything is unreadable", "So we show no copy, and nothing is sent or kept.", [
          "Is it a passport, identity card or driving licence? We cannot check other documents.",
          "Put the document on a plain, dark surface and take the photo straight from above: the whole document in the picture, sharp, without glare.",
          "Still not working? Ask the organisation for another way to show who you are.",
        ]],
        rate_limited: ["Please wait a moment", "You checked many documents in a short time.", [
          "Try again in {wait}.",
        ]],
        busy: ["It is very busy right now", "The check cannot take your document at the moment.", [
          "Try again in a minute.",
        ]],
        timeout: ["This took too long", "Blacking out your document took too long and was stopped.", [
          "Try a smaller or sharper photo.",
          "For a PDF, send only the pages with your document.",
        ]],
        purpose_too_long: ["The watermark text is too long", "The watermark text may have at most {chars} characters.", [
          "Make it shorter, for example: Copy for Municipality X - GDPR request - date.",
        ]],
        network: ["No connection", "We could not reach the check.", [
          "Check your internet connection and try again.",
        ]],
        other: ["Something went wrong", "The check did not succeed.", [
          "Please try again later.",
        ]],
      },
      seconds: "{n} seconds",
      a_minute: "a minute",
    },
  };

  // Error codes of the service, and the HTTP status to fall back on when a code is unknown.
  const CODE_ALIASES = { empty: "unreadable", unsupported_type: "unreadable", bad_request: "unreadable" };
  const STATUS_CODES = { 400: "unreadable", 413: "too_large", 415: "unreadable", 422: "needs_review",
    429: "rate_limited", 503: "busy", 504: "timeout" };

  const $ = (id) => document.getElementById(id);
  const state = {
    lang: "nl",
    limits: { max_bytes: 20 * 1024 * 1024, max_pages: 10, max_purpose_chars: 200 },
    sendEnabled: false,
    file: null,
    request: null, // {file, purpose} of the last check: "check again" sends the same with boxes
    result: null, // the JSON of a successful self-check
    problem: null, // {code, reasons, retryAfter, explanations}
    draw: null, // {pages: [{editor, figure, add}], leftovers, note} after a needs_review
    urls: [], // object URLs to revoke when the result is cleared
    sent: null, // {ok, text}
  };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  function t(key, values) {
    return fill(TEXT[state.lang][key], values || {});
  }

  function megabytes() {
    return Math.floor(state.limits.max_bytes / (1024 * 1024));
  }

  // The values the limit messages are filled with.
  function limitValues() {
    return { mb: megabytes(), pages: state.limits.max_pages, chars: state.limits.max_purpose_chars };
  }

  function humanSize(bytes) {
    return bytes >= 1024 * 1024 ? (bytes / (1024 * 1024)).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " kB";
  }

  function today() {
    const d = new Date();
    return [d.getDate(), d.getMonth() + 1, d.getFullYear()].map((n) => String(n).padStart(2, "0")).join("-");
  }

  function announce(text) {
    // Clear first so that the same sentence twice is still read out.
    const region = $("announce");
    region.textContent = "";
    window.setTimeout(() => { region.textContent = text; }, 100);
  }

  // ---------------------------------------------------------------- language

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.title = t("page_title");
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n, { mb: megabytes() });
    });
    const button = $("lang");
    button.textContent = t("other_lang");
    button.lang = state.lang === "nl" ? "en" : "nl";
    button.setAttribute("aria-label", t("other_lang_label"));
    $("purpose").placeholder = t("purpose_placeholder", { date: today() });
    $("purpose").maxLength = state.limits.max_purpose_chars;
    renderChosen();
    if (state.result) renderResult();
    if (state.problem) renderProblem();
    if (state.draw) renderDrawing();
    renderSendStatus();
  }

  function switchLanguage() {
    state.lang = state.lang === "nl" ? "en" : "nl";
    try { window.localStorage.setItem("lang", state.lang); } catch (e) { /* private mode */ }
    applyLanguage();
  }

  // ---------------------------------------------------------------- choosing a file

  function renderChosen() {
    const f = state.file;
    $("chosen").textContent = f ? t("chosen", { name: f.name, size: humanSize(f.size) }) : "";
  }

  function choose(file) {
    if (!file) return;
    state.file = file;
    clearOutcome();
    clearDrawing();
    renderChosen();
  }

  function setupDrop() {
    const drop = $("drop");
    ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("dragging")));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
    });
  }

  // ---------------------------------------------------------------- results

  function revokeUrls() {
    state.urls.forEach((u) => URL.revokeObjectURL(u));
    state.urls = [];
  }

  function clearOutcome() {
    revokeUrls();
    state.result = null;
    state.problem = null;
    state.sent = null;
    $("result").hidden = true;
    $("problem").hidden = true;
    $("draw").hidden = true;
    $("problem-details").open = false; // each result starts with its details folded
    $("sent-ref").hidden = true;
  }

  function base64Blob(base64, type) {
    const raw = atob(base64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return new Blob([bytes], { type });
  }

  function blobUrl(base64, type) {
    const url = URL.createObjectURL(base64Blob(base64, type));
    state.urls.push(url);
    return url;
  }

  function baseName() {
    const name = state.file ? state.file.name : "document";
    const stem = name.replace(/\.[^.]*$/, "").replace(/[^\w.\- ]+/g, "_").trim();
    return stem || "document";
  }

  function listItems(list, items) {
    list.replaceChildren(...items.map(([text, cls]) => {
      const li = document.createElement("li");
      li.textContent = text;
      if (cls) li.className = cls;
      return li;
    }));
  }

  function renderResult() {
    const r = state.result;
    const lang = state.lang;
    const description = r.summary.description[lang];
    // The image sources are built once per result; on a language switch only the words change.
    if (!r.sources) {
      r.sources = r.file.media_type.startsWith("image/")
        ? [blobUrl(r.file.base64, r.file.media_type)]
        : r.previews.map((p) => blobUrl(p, "image/png"));
      r.fileUrl = r.file.media_type.startsWith("image/") ? r.sources[0] : blobUrl(r.file.base64, r.file.media_type);
      r.recordUrl = URL.createObjectURL(new Blob([JSON.stringify(r.record, null, 2)], { type: "application/json" }));
      state.urls.push(r.recordUrl);
    }
    const total = r.sources.length;
    $("previews").replaceChildren(...r.sources.map((src, i) => {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.src = src;
      img.alt = total > 1 ? description + " " + t("page_of", { n: i + 1, total }) : description;
      const zoom = document.createElement("button");
      zoom.type = "button";
      zoom.className = "zoom";
      zoom.title = t("zoom", { n: i + 1 });
      zoom.setAttribute("aria-label", t("zoom", { n: i + 1 }));
      zoom.append(img);
      zoom.addEventListener("click", () => openZoom(src, img.alt));
      figure.append(zoom);
      if (total > 1) {
        const caption = document.createElement("figcaption");
        caption.textContent = t("page_of", { n: i + 1, total });
        figure.append(caption);
      }
      return figure;
    }));
    const legend = r.summary.legend.map((e) => [e.label[lang], "kind-" + e.kind]);
    listItems($("legend"), legend.length ? legend : [[t("legend_none"), "none"]]);
    listItems($("facts"), r.summary.facts.map((f) => [f.text[lang], f.ok === true ? "ok" : f.ok === false ? "bad" : "info"]));
    const file = $("download-file");
    file.href = r.fileUrl;
    file.download = baseName() + ".redacted." + r.file.extension;
    const record = $("download-record");
    record.href = r.recordUrl;
    record.download = baseName() + ".record.json";
    $("send-box").hidden = !state.sendEnabled;
    $("result").hidden = false;
  }

  function openZoom(src, alt) {
    const view = $("zoom-img");
    view.src = src;
    view.alt = alt;
    $("zoom").showModal();
    $("zoom-close").focus();
  }

  function problemText(code) {
    const key = CODE_ALIASES[code] || code;
    return TEXT[state.lang].problem[key] || TEXT[state.lang].problem.other;
  }

  function renderProblem() {
    const p = state.problem;
    const [title, text, tips] = problemText(p.code);
    const wait = p.retryAfter ? t("seconds", { n: p.retryAfter }) : t("a_minute");
    const values = { ...limitValues(), wait };
    $("problem-title").textContent = fill(title, values);
    $("problem-text").textContent = fill(text, values);
    listItems($("problem-tips"), tips.map((tip) => [fill(tip, values)]));
    renderExplanations(p.explanations);
    listItems($("problem-reasons"), (p.reasons || []).map((r) => [r]));
    $("problem-details").hidden = !(p.reasons && p.reasons.length);
    $("problem").hidden = false;
  }

  // needs_review: the server's own words for each reason, then what to do. Reasons often share
  // a next step ("take a sharper photo, or draw a box"): each step is shown once.
  function renderExplanations(explanations) {
    const lang = state.lang;
    const steps = [...new Set(explanations.map((e) => (e.next_step || {})[lang]).filter(Boolean))];
    listItems($("problem-why"), explanations.map((e) => [(e.text || {})[lang] || ""]));
    listItems($("problem-steps"), steps.map((step) => [step]));
    $("problem-explained").hidden = explanations.length === 0;
  }

  // `detail` is the error body's detail: for needs_review it may carry explanations, the
  // requester's pages to draw on, the pipeline's proposals and what verification still saw.
  function showProblem(code, reasons, retryAfter, detail) {
    clearOutcome();
    detail = detail || {};
    const explanations = Array.isArray(detail.explanations) ? detail.explanations : [];
    state.problem = { code, reasons, retryAfter, explanations };
    renderProblem();
    if (code === "needs_review") showDrawing(detail);
    // A failed "check again" (busy, no connection) keeps the boxes, so they can try once more.
    $("draw").hidden = !state.draw;
    const [title, text] = problemText(code);
    const why = explanations.length ? " " + (explanations[0].text || {})[state.lang] : "";
    announce(fill(title, {}) + ". " + fill(text, limitValues()) + why);
    showSection("problem", "problem-title");
  }

  // ---------------------------------------------------------------- drawing boxes (needs_review)

  // The editors are built once per check of a file; a second needs_review after "check again"
  // keeps the requester's boxes and outlines in red what verification still saw.
  function showDrawing(detail) {
    if (!state.draw && Array.isArray(detail.pages) && detail.pages.length && window.BoxEditor) {
      buildDrawing(detail.pages, Array.isArray(detail.proposed) ? detail.proposed : []);
    }
    if (!state.draw) return;
    state.draw.leftovers = Array.isArray(detail.leftovers) ? detail.leftovers : [];
    state.draw.note = state.draw.leftovers.length ? "draw_leftovers" : null;
    state.draw.pages.forEach((p, i) => p.editor.mark(state.draw.leftovers.filter((l) => l.page === i)));
    renderDrawing();
  }

  function buildDrawing(pages, proposed) {
    const holder = $("draw-pages");
    holder.replaceChildren();
    state.draw = { leftovers: [], note: null, pages: pages.map((page, i) => {
      const figure = document.createElement("figure");
      figure.className = "draw-page";
      holder.append(figure);
      const editor = new window.BoxEditor(figure, {
        image: "data:image/jpeg;base64," + page.image,
        width: page.width,
        height: page.height,
        page: i,
        onChange: drawingChanged,
      });
      showPlanned(figure, page, proposed.filter((r) => r.page === i));
      const add = document.createElement("button");
      add.type = "button";
      add.className = "button secondary draw-add";
      add.addEventListener("click", () => editor.add());
      figure.append(add);
      return { editor, figure, add };
    }) };
  }

  // What the pipeline blacks out anyway. Not handed to the editor as "proposed" boxes: those can
  // be moved and switched off, which a requester cannot do (the server keeps its own boxes).
  // Drawn first, so the requester's own boxes lie on top.
  function showPlanned(figure, page, proposed) {
    const layer = figure.querySelector(".box-layer");
    for (const r of proposed) {
      const [x0, y0, x1, y1] = r.box;
      const el = document.createElement("div");
      el.className = "draw-planned";
      el.title = r.why || "";
      el.style.left = (100 * x0) / page.width + "%";
      el.style.top = (100 * y0) / page.height + "%";
      el.style.width = (100 * (x1 - x0)) / page.width + "%";
      el.style.height = (100 * (y1 - y0)) / page.height + "%";
      layer.append(el);
    }
  }

  // The words on the drawing step that depend on the language or on the last answer.
  function renderDrawing() {
    const d = state.draw;
    const total = d.pages.length;
    d.pages.forEach((p, i) => {
      const n = i + 1;
      p.add.textContent = total > 1 ? t("draw_add_page", { n }) : t("draw_add");
      // The editor reads its words when it labels a box (it fills in {n} itself); the stage
      // and the image it labels only once, so those are set here.
      p.editor.text = { ...p.editor.text, box: TEXT[state.lang].draw_box, remove: t("draw_remove") };
      const stage = p.figure.querySelector(".box-stage");
      stage.setAttribute("aria-label", t("draw_stage", { n }));
      stage.querySelector("img").alt = t("draw_alt", { n });
    });
    $("draw-legend-left").hidden = d.leftovers.length === 0;
    $("draw-status").textContent = d.note ? t(d.note) : "";
  }

  function drawingChanged() {
    if (state.draw && state.draw.note === "draw_none") {
      state.draw.note = null;
      renderDrawing();
    }
  }

  function clearDrawing() {
    state.draw = null;
    $("draw-pages").replaceChildren();
    $("draw-status").textContent = "";
    $("draw").hidden = true;
  }

  // The requester's boxes in the page pixels the server sent. Proposals are not sent: the
  // server blacks those out anyway.
  function drawnRegions() {
    return state.draw.pages.flatMap((p) => p.editor.added().map((r) => ({ page: r.page, box: r.box })));
  }

  function checkAgain() {
    if (!state.draw || !state.request) return;
    const regions = drawnRegions();
    if (!regions.length) {
      state.draw.note = "draw_none";
      renderDrawing();
      state.draw.pages[0].add.focus();
      return;
    }
    sendCheck(regions);
    $("progress").scrollIntoView({ block: "center" }); // the form is far above the drawing
  }

  function showResult(json) {
    clearOutcome();
    state.result = json;
    renderResult();
    announce(t("done", { description: json.summary.description[state.lang] }));
    showSection("result", "result-title");
  }

  // Focus for screen readers, and the whole section in view: on a phone, focusing the heading
  // alone leaves it at the bottom edge with the explanation below the fold.
  function showSection(id, headingId) {
    $(headingId).focus({ preventScroll: true });
    $(id).scrollIntoView({ block: "start" });
  }

  // ---------------------------------------------------------------- processing

  function setBusy(busy) {
    $("progress").hidden = !busy;
    $("submit").disabled = busy;
    $("draw-check").disabled = busy;
    $("form").setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showUpload(pct) {
    const bar = $("bar");
    bar.value = pct;
    $("progress-text").textContent = t("uploading", { pct });
  }

  function showProcessing() {
    $("bar").removeAttribute("value"); // an indeterminate bar: the server gives no progress
    $("progress-text").textContent = t("processing");
  }

  function handleResponse(xhr) {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
    if (xhr.status === 200 && body && body.status === "redacted") {
      showResult(body);
      return;
    }
    const detail = body && typeof body.detail === "object" && body.detail ? body.detail : {};
    const code = detail.code || STATUS_CODES[xhr.status] || "other";
    const reasons = detail.record && Array.isArray(detail.record.reasons) ? detail.record.reasons
      : detail.message ? [detail.message] : [];
    showProblem(code, reasons, xhr.getResponseHeader("Retry-After"), detail);
  }

  function submit(event) {
    event.preventDefault();
    if (!state.file) {
      showProblemNoFile();
      return;
    }
    if (state.file.size > state.limits.max_bytes) {
      showProblem("too_large", [], null);
      return;
    }
    clearDrawing();
    state.request = { file: state.file, purpose: $("purpose").value.trim() };
    sendCheck(null);
  }

  // POST /v1/self-check with the last chosen file and purpose; `regions` (boxes the requester
  // drew after a needs_review) is null for a first check.
  function sendCheck(regions) {
    clearOutcome();
    const form = new FormData();
    form.append("file", state.request.file, "upload"); // the server needs no file name
    if (state.request.purpose) form.append("purpose", state.request.purpose);
    if (regions) form.append("regions", JSON.stringify(regions));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/self-check");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) showUpload(Math.round((100 * e.loaded) / e.total));
    });
    xhr.upload.addEventListener("load", showProcessing);
    xhr.addEventListener("load", () => { setBusy(false); handleResponse(xhr); });
    xhr.addEventListener("error", () => { setBusy(false); showProblem("network", [], null); });
    setBusy(true);
    showUpload(0);
    announce(t("started"));
    xhr.send(form);
  }

  function showProblemNoFile() {
    clearOutcome();
    const chosen = $("chosen");
    chosen.textContent = t("no_file");
    $("file").focus();
  }

  // ---------------------------------------------------------------- sending to the intake

  function renderSendStatus() {
    const el = $("send-status");
    el.textContent = state.sent ? state.sent.text() : "";
    el.className = "send-status" + (state.sent ? (state.sent.ok ? " ok" : " bad") : "");
  }

  async function send() {
    const r = state.result;
    if (!r) return;
    $("send").disabled = true;
    state.sent = { ok: true, text: () => t("sending") };
    renderSendStatus();
    // The copy and the record exactly as the service made and signed them: the server checks
    // the signature, so nothing but its own redacted output can be stored this way.
    const form = new FormData();
    form.append("record", JSON.stringify(r.record));
    form.append("file", base64Blob(r.file.base64, r.file.media_type), "redacted." + r.file.extension);
    let response = null;
    let body = null;
    try {
      response = await fetch("/v1/self-check/send", { method: "POST", body: form });
      body = await response.json().catch(() => null);
    } catch (e) {
      response = null;
    }
    if (response && response.ok && body && body.reference) {
      state.sent = { ok: true, text: () => t("sent") };
      $("ref").textContent = body.short_reference || body.reference;
      $("copied").textContent = "";
      $("sent-ref").hidden = false;
    } else {
      const code = body && body.detail ? body.detail.code : null;
      state.sent = { ok: false, text: () => t(code === "expired" ? "send_expired" : "send_failed") };
      $("send").disabled = false;
    }
    renderSendStatus();
    announce(state.sent.text());
  }

  async function copyReference() {
    const ref = $("ref").textContent;
    try {
      await navigator.clipboard.writeText(ref);
    } catch (e) {
      // No clipboard access (an insecure origin, say): select it, so the phone offers to copy.
      const range = document.createRange();
      range.selectNodeContents($("ref"));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      return;
    }
    $("copied").textContent = t("copied");
  }

  // ---------------------------------------------------------------- start

  async function loadConfig() {
    try {
      const response = await fetch("/v1/self-check/config");
      if (!response.ok) return;
      const config = await response.json();
      state.limits = { ...state.limits, ...config };
      state.sendEnabled = Boolean(config.send_enabled);
      applyLanguage();
    } catch (e) { /* keep the defaults; the server checks the limits anyway */ }
  }

  function again() {
    clearOutcome();
    clearDrawing();
    state.file = null;
    $("form").reset();
    renderChosen();
    $("file").focus();
  }

  function init() {
    try {
      const saved = window.localStorage.getItem("lang");
      if (saved === "en" || saved === "nl") state.lang = saved;
    } catch (e) { /* private mode */ }
    $("lang").addEventListener("click", switchLanguage);
    $("file").addEventListener("change", (e) => choose(e.target.files[0]));
    $("camera").addEventListener("change", (e) => choose(e.target.files[0]));
    $("form").addEventListener("submit", submit);
    $("send").addEventListener("click", send);
    $("again").addEventListener("click", again);
    $("draw-check").addEventListener("click", checkAgain);
    $("copy-ref").addEventListener("click", copyReference);
    $("zoom-close").addEventListener("click", () => $("zoom").close());
    // A tap on the dark backdrop (outside the picture's frame) closes it too.
    $("zoom").addEventListener("click", (e) => { if (e.target === $("zoom")) $("zoom").close(); });
    setupDrop();
    applyLanguage();
    loadConfig();
  }

  init();
})();
