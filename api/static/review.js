// Review station: privacy staff finish the documents the pipeline would not publish.
// The queue, one item's pages with the proposed boxes, draw or adjust boxes (boxes.js), then
// publish (the server verifies again) or reject. Talks to /v1/reviews with an API key that
// has the `review` scope; the key lives in this script's memory only, never in storage.
"use strict";

(function () {
  const TEXT = {
    nl: {
      title: "Reviewstation",
      skip: "Naar de inhoud",
      brand: "Reviewstation ID-kopieën",
      other_lang: "English",
      signin_title: "Aanmelden",
      key_label: "API-sleutel met het recht 'review'",
      key_hint: "De sleutel blijft alleen in dit tabblad; sluit het tabblad om af te melden.",
      signin: "Aanmelden",
      bad_key: "Deze sleutel wordt niet geaccepteerd.",
      no_scope: "Deze sleutel heeft het recht 'review' niet.",
      queue_title: "Wachten op een medewerker",
      refresh: "Vernieuwen",
      queue_empty: "Er wacht niets. Alles is afgerond.",
      col_created: "Binnengekomen",
      col_source: "Via",
      col_why: "Waarom",
      col_delete: "Wordt verwijderd",
      col_open: "Openen",
      open: "Openen",
      source_intake: "intake",
      source_watch: "map",
      back: "Terug naar de lijst",
      item_title: "Document afronden",
      why_title: "Waarom een medewerker nodig is",
      how_title: "Zo werkt het",
      how_proposed: "Grijze vakken met een blauwe stippellijn worden zwart gemaakt. Klik op × (of Delete) om er een uit te zetten.",
      how_draw: "Sleep over de pagina om een vak te tekenen.",
      how_keys: "Toetsenbord: 'Vak toevoegen', dan pijltjes om te verplaatsen en Alt + pijltjes om de grootte te veranderen.",
      add: "Vak toevoegen",
      publish: "Publiceren",
      reject_label: "Of weigeren, met de reden",
      reject: "Weigeren",
      reject_needs_reason: "Geef een reden om te weigeren.",
      page: "Pagina {n}",
      stage: "Pagina {n}: sleep om een vak te tekenen",
      box: "Vak {n}",
      proposed: "Voorgesteld vak {n} ({kind})",
      off: "uitgezet",
      remove: "Vak weghalen",
      toggle: "Vak uit- of aanzetten",
      loading: "Bezig…",
      publishing: "Bezig met zwart maken en opnieuw controleren…",
      published: "Gepubliceerd. Record {id}.",
      published_file: "Gepubliceerd als {file}. Record {id}.",
      still_visible: "Niet gepubliceerd: er is nog iets te zien (rood omlijnd). Maak de vakken groter en probeer opnieuw.",
      rejected: "Geweigerd. Record {id}. Het origineel is verwijderd.",
      gone: "Dit document is er niet meer (al afgerond of verwijderd).",
      busy: "Iemand anders publiceert dit document nu.",
      failed: "Dat lukte niet ({code}). Probeer het opnieuw.",
      delete_at: "{when}",
    },
    en: {
      title: "Review station",
      skip: "Skip to content",
      brand: "ID copy review station",
      other_lang: "Nederlands",
      signin_title: "Sign in",
      key_label: "API key with the 'review' scope",
      key_hint: "The key stays in this tab only; close the tab to sign out.",
      signin: "Sign in",
      bad_key: "This key is not accepted.",
      no_scope: "This key lacks the 'review' scope.",
      queue_title: "Waiting for a person",
      refresh: "Refresh",
      queue_empty: "Nothing is waiting. Everything is done.",
      col_created: "Arrived",
      col_source: "From",
      col_why: "Why",
      col_delete: "Deleted on",
      col_open: "Open",
      open: "Open",
      source_intake: "intake",
      source_watch: "folder",
      back: "Back to the list",
      item_title: "Finish the document",
      why_title: "Why a person is needed",
      how_title: "How it works",
      how_proposed: "Grey boxes with a blue dashed line are blacked out. Click × (or Delete) to switch one off.",
      how_draw: "Drag over the page to draw a box.",
      how_keys: "Keyboard: 'Add box', then arrows to move it and Alt + arrows to resize it.",
      add: "Add box",
      publish: "Publish",
      reject_label: "Or reject, with the reason",
      reject: "Reject",
      reject_needs_reason: "Give a reason to reject.",
      page: "Page {n}",
      stage: "Page {n}: drag to draw a box",
      box: "Box {n}",
      proposed: "Proposed box {n} ({kind})",
      off: "switched off",
      remove: "Remove box",
      toggle: "Switch box off or on",
      loading: "Working…",
      publishing: "Blacking out and checking again…",
      published: "Published. Record {id}.",
      published_file: "Published as {file}. Record {id}.",
      still_visible: "Not published: something still shows (outlined in red). Make the boxes larger and try again.",
      rejected: "Rejected. Record {id}. The original was deleted.",
      gone: "This document is gone (finished or deleted already).",
      busy: "Someone else is publishing this document right now.",
      failed: "That did not work ({code}). Try again.",
      delete_at: "{when}",
    },
  };

  const $ = (id) => document.getElementById(id);
  const state = { lang: "nl", key: null, items: [], item: null, editors: [], urls: [] };

  function t(key, values) {
    return TEXT[state.lang][key].replace(/\{(\w+)\}/g, (_, k) => (values && k in values ? String(values[k]) : ""));
  }

  function when(iso) {
    return new Date(iso).toLocaleString(state.lang === "nl" ? "nl-NL" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + state.key } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  async function detail(response) {
    try {
      return (await response.json()).detail || {};
    } catch (e) {
      return {};
    }
  }

  function show(section) {
    for (const id of ["signin", "queue", "item"]) $(id).hidden = id !== section;
  }

  // ---------------------------------------------------------------- language

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("lang").textContent = t("other_lang");
    $("lang").lang = state.lang === "nl" ? "en" : "nl";
    if (state.items.length || !$("queue").hidden) renderQueue();
    if (state.item) renderWhy(state.item.explanations, $("why"));
  }

  // ---------------------------------------------------------------- sign in and queue

  async function signIn(event) {
    event.preventDefault();
    state.key = $("key").value.trim();
    const response = await api("GET", "/v1/reviews");
    if (response.status === 401 || response.status === 403) {
      $("signin-error").textContent = t(response.status === 401 ? "bad_key" : "no_scope");
      state.key = null;
      return;
    }
    $("key").value = "";
    await loadQueue();
  }

  async function loadQueue() {
    $("queue-status").textContent = "";
    const response = await api("GET", "/v1/reviews");
    state.items = response.ok ? (await response.json()).items : [];
    state.item = null;
    show("queue");
    renderQueue();
    $("queue-title").focus();
  }

  function renderQueue() {
    const rows = $("queue-rows");
    rows.textContent = "";
    $("queue-empty").hidden = state.items.length > 0;
    $("queue-table").hidden = state.items.length === 0;
    for (const item of state.items) {
      const tr = document.createElement("tr");
      const why = item.explanations.map((e) => e.text[state.lang]).join(" ");
      for (const text of [when(item.created), t("source_" + item.source), why, when(item.delete_at)]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      const td = document.createElement("td");
      const open = document.createElement("button");
      open.type = "button";
      open.className = "button primary small";
      open.textContent = t("open");
      open.setAttribute("aria-label", t("open") + ": " + why);
      open.addEventListener("click", () => openItem(item.id));
      td.appendChild(open);
      tr.appendChild(td);
      rows.appendChild(tr);
    }
  }

  // ---------------------------------------------------------------- one item

  function renderWhy(explanations, list) {
    list.textContent = "";
    for (const e of explanations) {
      const li = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = e.text[state.lang] + " ";
      const step = document.createElement("strong");
      step.textContent = e.staff_step[state.lang];
      li.append(what, step);
      list.appendChild(li);
    }
  }

  function clearPages() {
    state.urls.forEach((u) => URL.revokeObjectURL(u));
    state.urls = [];
    state.editors = [];
    $("pages").textContent = "";
  }

  async function openItem(id) {
    const response = await api("GET", "/v1/reviews/" + encodeURIComponent(id));
    if (!response.ok) {
      await loadQueue();
      return;
    }
    state.item = await response.json();
    clearPages();
    $("item-status").textContent = t("loading");
    $("leftovers").textContent = "";
    $("reject-reason").value = "";
    show("item");
    renderWhy(state.item.explanations, $("why"));
    $("item-title").focus();
    for (let n = 0; n < state.item.page_sizes.length; n++) await addPage(n);
    $("item-status").textContent = "";
  }

  async function addPage(n) {
    const size = state.item.page_sizes[n];
    const response = await api("GET", "/v1/reviews/" + state.item.id + "/pages/" + n);
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    state.urls.push(url);
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = t("page", { n: n + 1 });
    figure.appendChild(caption);
    $("pages").appendChild(figure);
    const text = {};
    for (const k of ["box", "proposed", "off", "remove", "toggle"]) text[k] = t(k);
    text.stage = t("stage", { n: n + 1 });
    state.editors.push(
      new window.BoxEditor(figure, {
        image: url,
        alt: t("page", { n: n + 1 }),
        width: size.width,
        height: size.height,
        page: n,
        proposed: state.item.proposed.filter((p) => p.page === n),
        text,
      })
    );
  }

  async function publish() {
    const regions = state.editors.flatMap((e) => e.added());
    const dropped = state.editors.flatMap((e) => e.dropped());
    $("publish").disabled = true;
    $("item-status").textContent = t("publishing");
    $("leftovers").textContent = "";
    try {
      const response = await api("POST", "/v1/reviews/" + state.item.id + "/publish", { regions, dropped });
      if (response.status === 201) {
        const body = await response.json();
        const id = body.record.record_id;
        const message = body.file ? t("published_file", { file: body.file, id }) : t("published", { id });
        await loadQueue();
        $("queue-status").textContent = message;
        return;
      }
      const d = await detail(response);
      if (d.code === "still_visible") {
        $("item-status").textContent = t("still_visible");
        renderWhy(d.explanations || [], $("leftovers"));
        for (const e of state.editors) e.mark((d.leftovers || []).filter((l) => l.page === e.page));
      } else {
        $("item-status").textContent = response.status === 404 ? t("gone") : d.code === "in_progress" ? t("busy") : t("failed", { code: d.code || response.status });
      }
    } finally {
      $("publish").disabled = false;
    }
  }

  async function reject(event) {
    event.preventDefault();
    const reason = $("reject-reason").value.trim();
    if (!reason) {
      $("item-status").textContent = t("reject_needs_reason");
      $("reject-reason").focus();
      return;
    }
    const response = await api("POST", "/v1/reviews/" + state.item.id + "/reject", { reason });
    if (response.ok) {
      const body = await response.json();
      await loadQueue();
      $("queue-status").textContent = t("rejected", { id: body.record.record_id });
    } else {
      $("item-status").textContent = response.status === 404 ? t("gone") : t("failed", { code: response.status });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("refresh").addEventListener("click", loadQueue);
    $("back").addEventListener("click", loadQueue);
    $("add").addEventListener("click", () => {
      if (state.editors.length) state.editors[0].add();
    });
    $("publish").addEventListener("click", publish);
    $("reject-form").addEventListener("submit", reject);
    $("lang").addEventListener("click", () => {
      state.lang = state.lang === "nl" ? "en" : "nl";
      applyLanguage();
    });
    applyLanguage();
  });
})();
