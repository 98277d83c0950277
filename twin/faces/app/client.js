// CIM Twin in Chinese and English: the catalogues come from the server's gettext files (shared
// state `i18n`, `i18n_fragments`); `lang` is this browser's own (client-only) choice, so a switch
// re-renders the text and leaves the scene alone.
window.twinI18n = (function () {
  const TAGS = { zh: "zh-CN", en: "en-GB" };
  const VUETIFY = { zh: "zhHans", en: "en" };
  const KEY = "twin.lang";  // this tab's explicit choice, kept across a reconnect
  let app = null;

  function normalise(tag) {
    const primary = String(tag || "").toLowerCase().split(/[-_.]/)[0];
    return Object.prototype.hasOwnProperty.call(TAGS, primary) ? primary : null;
  }
  // ?lang= first, then this tab's switch, then `twin serve --lang`, then the browser's languages
  function choose(trame) {
    const asked = new URLSearchParams(window.location.search).get("lang");
    const browser = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
    return normalise(asked) || normalise(window.sessionStorage.getItem(KEY)) ||
      normalise(trame.state.get("server_lang")) || browser.map(normalise).find(Boolean) || "en";
  }
  function current() { return (app && app.state.get("lang")) || "en"; }
  function locale(lang) { return TAGS[lang || current()] || "en-GB"; }
  function t(msgid, values, lang) {
    const catalogues = (app && app.state.get("i18n")) || {};
    let text = (catalogues[lang || current()] || {})[msgid] || msgid;
    Object.entries(values || {}).forEach(([key, value]) => { text = text.split("{" + key + "}").join(String(value)); });
    return text;
  }
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // a fragment's {field} stands for one word (an id, a number) that the translation puts in its place
  const pattern = (english) => english.split(/\{(\w+)\}/)
    .map((part, i) => (i % 2 ? "(?<" + part + ">\\S+)" : escape(part))).join("");
  // the risk engine's English reasons, their known fragments replaced (ids, numbers, units stay),
  // as twin/faces/i18n.py reason() does
  function reason(text, lang) {
    const pairs = ((app && app.state.get("i18n_fragments")) || {})[lang || current()] || [];
    return pairs.reduce((out, [english, translated]) =>
      out.replace(new RegExp("(^|[^\\w-])" + pattern(english) + "(?![\\w-])", "g"), (...found) => {
        const fields = typeof found[found.length - 1] === "object" ? found[found.length - 1] : {};
        return found[1] + translated.replace(/\{(\w+)\}/g, (whole, name) => (fields[name] !== undefined ? fields[name] : whole));
      }), String(text || ""));
  }
  // Vuetify's own texts (a field's "Clear", "No data") follow through its locale
  // (Vuetify provides its locale to the app under the symbol "vuetify:locale"; it has no global handle)
  // (the app's handle is set once it is mounted: a page's first call may come before, so try again)
  function vuetify(lang, tries) {
    const app = (document.querySelector("#app") || {}).__vue_app__;
    const provides = app ? app._context.provides : {};
    const key = Object.getOwnPropertySymbols(provides).find((s) => s.description === "vuetify:locale");
    if (key && provides[key].current) provides[key].current.value = VUETIFY[lang] || "en";
    else if ((tries || 0) < 50) window.setTimeout(() => vuetify(lang, (tries || 0) + 1), 100);
  }
  function show(trame, lang) {
    trame.state.set("lang", lang);
    vuetify(lang);
    document.documentElement.lang = locale(lang);
    document.title = t("CIM Twin", null, lang) + " — " + (trame.state.get("scene_name") || "");
  }
  // a switch from the menu: this tab keeps it, and the server answers this browser in it
  function set(trame, lang) {
    window.sessionStorage.setItem(KEY, lang);
    show(trame, lang);
    return trame.trigger("twin_lang", [lang]).catch(() => null);
  }
  function init(trame) {
    app = trame;
    const lang = choose(trame);
    show(trame, lang);
    return trame.trigger("twin_lang", [lang]).catch(() => null);
  }
  return { init, set, t, reason, locale, normalise };
})();

// CIM Twin browser helpers: per-browser state lives here (client-only trame keys), and every
// server action goes through a trigger that answers this browser alone.
window.twinUI = (function () {
  const S = (trame, key) => trame.state.get(key);
  const set = (trame, key, value) => trame.state.set(key, value);
  let pointerDown = null;
  let moved = false;
  // what a reconnect restores (tool, camera, layers, selection, tour position), kept in this tab
  const KEPT = "twin.kept";
  const REMEMBER_MS = 5000;
  const restoring = (function () {
    const kept = JSON.parse(window.sessionStorage.getItem(KEPT) || "{}");
    return kept.reconnect ? kept : null;
  })();
  let remembering = false;

  function viewId(trame) { return S(trame, "my_view"); }
  function localView(trame) {
    return S(trame, "rendering") === "client" ? trame.refs.twin_local : null;
  }
  // the camera argument of every call: null for server-side rendering; for client-side rendering
  // the browser's camera (the server uses it to pick, fly to, save), {} before the view exists
  function localCamera(trame) {
    if (S(trame, "rendering") !== "client") return null;
    const view = localView(trame);
    return (view && view.getCamera && view.getCamera()) || {};
  }
  function setLocalCamera(trame, camera, tries) {
    const view = localView(trame);
    if (view && view.setCamera) { view.setCamera(camera); return; }
    if ((tries || 0) < 20) window.setTimeout(() => setLocalCamera(trame, camera, (tries || 0) + 1), 250);
  }
  function toast(trame, text, color) { set(trame, "toast", { show: true, text: String(text), color: color || "error" }); }

  async function call(trame, name, args) {
    set(trame, "busy", true);
    try {
      const reply = await trame.trigger(name, args || []);
      if (reply && reply.error) { toast(trame, reply.error); return null; }
      if (reply && reply.scene) set(trame, "my_scene", reply.scene);
      if (reply && reply.camera_local) setLocalCamera(trame, reply.camera_local);
      if (reply && reply.frame_ms !== undefined) set(trame, "frame_ms", reply.frame_ms);
      if (window.twinBearings) window.twinBearings.changed();  // the camera may have moved: north, scale
      return reply;
    } catch (err) {
      toast(trame, window.twinI18n.t("The server did not answer: {error}", { error: err && err.message ? err.message : err }));
      return null;
    } finally {
      set(trame, "busy", false);
    }
  }

  async function apply(trame) {
    return call(trame, "twin_apply", [viewId(trame), S(trame, "cfg"), localCamera(trame)]);
  }
  async function setCfg(trame, patch) {
    set(trame, "cfg", Object.assign({}, S(trame, "cfg"), patch));
    return apply(trame);
  }
  function toggleLayer(trame, name, on) {
    const visible = S(trame, "cfg").visible.filter((n) => n !== name);
    if (on) visible.push(name);
    return setCfg(trame, { visible });
  }
  function setOpacity(trame, name, value) {
    return setCfg(trame, { opacity: Object.assign({}, S(trame, "cfg").opacity, { [name]: Number(value) }) });
  }
  function setClip(trame, patch) {
    return setCfg(trame, { clip: Object.assign({}, S(trame, "cfg").clip, patch) });
  }

  // a phone or a tablet (layout.NARROW): the panels are drawers over the view, opened when needed
  function narrow() { return window.innerWidth < 1000; }
  function showInspector(trame, reply) {
    if (!reply) return;
    set(trame, "inspector", reply.inspector || null);
    if (reply.inspector && narrow()) { set(trame, "show_layers", false); set(trame, "show_inspector", true); }
    set(trame, "selected_tree", reply.inspector ? [reply.inspector.index] : []);
    if (reply.tree_open && reply.tree_open.length) {
      set(trame, "tree_opened", Array.from(new Set([...(S(trame, "tree_opened") || []), ...reply.tree_open])));
    }
    set(trame, "analysis", null);
  }
  async function select(trame, index, fly) {
    showInspector(trame, await call(trame, "twin_select", [viewId(trame), index, !!fly, localCamera(trame)]));
  }
  async function clearSelection(trame) {
    await call(trame, "twin_select", [viewId(trame), -1, false, localCamera(trame)]);
    set(trame, "inspector", null); set(trame, "analysis", null); set(trame, "selected_tree", []);
  }

  function down(event) { pointerDown = [event.clientX, event.clientY]; moved = false; pressed = true; }
  function up(event) {
    pressed = false;
    if (pointerDown) moved = Math.hypot(event.clientX - pointerDown[0], event.clientY - pointerDown[1]) > 4;
  }
  async function pick(trame, event) {
    if (moved) return;  // a drag that orbited the camera is not a click
    const reply = await call(trame, "twin_pick", [viewId(trame), event, S(trame, "tool"), localCamera(trame)]);
    if (!reply) return;
    if (S(trame, "tool") === "measure") {
      set(trame, "measure", reply.measure || null);
    } else {
      showInspector(trame, reply);
    }
  }
  // hover: where the pointer rests (not while dragging), the server highlights what is under it
  // (twin_hover, both rendering modes) and the tooltip names it: name, kind, network, risk level
  let hoverTimer = null, hoverSeq = 0, pressed = false, pointer = [0, 0];
  document.addEventListener("pointermove", (e) => { pointer = [e.clientX, e.clientY]; }, { passive: true });
  function tooltip() {
    let tip = document.getElementById("twin-hover-tip");
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "twin-hover-tip";
      tip.setAttribute("role", "tooltip");
      tip.setAttribute("data-testid", "hover-tip");
      tip.style.cssText = "position:fixed;z-index:20;pointer-events:none;display:none;padding:4px 8px;" +
        "border-radius:4px;background:rgba(33,33,33,.92);color:#fff;font:12px/1.4 sans-serif;max-width:280px";
      document.body.appendChild(tip);
    }
    return tip;
  }
  function showTip(found) {
    const tip = tooltip();
    tip.style.display = "none";
    if (!found) return;
    const t = window.twinI18n.t;
    const name = document.createElement("b");
    name.textContent = found.name;
    const line = document.createElement("div");
    line.textContent = [t(found.kind), found.network, found.level ? t(found.level) : ""].filter(Boolean).join(" · ");
    tip.replaceChildren(name, line);
    tip.style.left = (pointer[0] + 14) + "px";
    tip.style.top = (pointer[1] + 14) + "px";
    tip.style.display = "block";
  }
  function hover(trame, event) {
    if (window.twinBearings) window.twinBearings.probe(trame, event);  // the coordinates under the mouse
    window.clearTimeout(hoverTimer);
    const seq = ++hoverSeq;
    tooltip().style.display = "none";
    if (pressed || S(trame, "tool") === "measure") return;
    hoverTimer = window.setTimeout(async () => {
      const reply = await trame.trigger("twin_hover", [viewId(trame), event, localCamera(trame)]).catch(() => null);
      if (seq !== hoverSeq || !reply || reply.error) return;
      if (reply.scene) set(trame, "my_scene", reply.scene);
      showTip(reply.hover);
    }, 300);
  }
  async function search(trame, text) {
    set(trame, "search_text", text || "");
    if (!text || text.length < 2) { set(trame, "suggestions", []); return; }
    const reply = await call(trame, "twin_search", [text]);
    if (reply && S(trame, "search_text") === text) set(trame, "suggestions", reply.suggestions);
  }
  async function choose(trame, index) {
    if (index === null || index === undefined) return;
    set(trame, "suggestions", []);
    return select(trame, index, true);
  }
  // an inspector button: fly_to, isolate or nearby, each its own trigger
  async function action(trame, name) {
    const ins = S(trame, "inspector");
    if (!ins) return;
    const reply = await call(trame, "twin_" + name, [viewId(trame), ins.index, localCamera(trame)]);
    if (reply && reply.analysis !== undefined) set(trame, "analysis", reply.analysis);
  }
  function look(trame, name) { return call(trame, "twin_look", [viewId(trame), name, localCamera(trame)]); }
  async function saveBookmark(trame, name) {
    const reply = await call(trame, "twin_save_bookmark", [viewId(trame), name, localCamera(trame)]);
    if (reply) { set(trame, "bookmarks", reply.bookmarks); toast(trame, reply.message, "success"); }
  }
  async function screenshot(trame) {
    const reply = await call(trame, "twin_screenshot", [viewId(trame), localCamera(trame)]);
    if (!reply) return;
    const bytes = Uint8Array.from(atob(reply.png), (c) => c.charCodeAt(0));
    trame.utils.download(reply.filename, bytes, "image/png");
  }
  async function share(trame) {
    const ins = S(trame, "inspector");
    const reply = await call(trame, "twin_share", [viewId(trame), S(trame, "cfg"), ins ? ins.id : null,
      S(trame, "rendering"), localCamera(trame)]);
    if (!reply) return;
    const url = window.location.origin + window.location.pathname + window.location.search + "#" + reply.fragment;
    set(trame, "share_url", url);
    if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  }
  async function setRendering(trame, mode) {
    set(trame, "rendering", mode);
    await apply(trame);
    const ins = S(trame, "inspector");
    if (ins) await call(trame, "twin_select", [viewId(trame), ins.index, false, localCamera(trame)]);
  }
  async function pollFrame(trame) {
    if (document.hidden) return;
    const reply = await trame.trigger("twin_frame", [viewId(trame)]).catch(() => null);
    if (reply && reply.frame_ms !== undefined) set(trame, "frame_ms", reply.frame_ms);
  }

  // -- steady under load: keep what a reconnect restores ----------------------------------------
  function keep(trame, patch) {
    const kept = JSON.parse(window.sessionStorage.getItem(KEPT) || "{}");
    const tool = trame ? { tool: S(trame, "tool") } : {};
    window.sessionStorage.setItem(KEPT, JSON.stringify(Object.assign(kept, tool, patch || {})));
  }
  // the view as a share fragment (camera, layers, selection, clip, rendering), asked now and then;
  // never more than one question in flight, so a busy server is not asked again and again
  async function remember(trame) {
    if (remembering || !S(trame, "ready")) return;
    remembering = true;
    try {
      const ins = S(trame, "inspector");
      const reply = await trame.trigger("twin_share", [viewId(trame), S(trame, "cfg"), ins ? ins.id : null,
        S(trame, "rendering"), localCamera(trame)]);
      if (reply && reply.fragment) keep(trame, { fragment: reply.fragment });
    } catch (err) {
      // the last fragment stays
    } finally {
      remembering = false;
    }
  }
  function kept() { return restoring; }

  async function init(trame) {
    if (narrow()) { set(trame, "show_layers", false); set(trame, "show_inspector", false); }
    document.addEventListener("keydown", (event) => {  // Escape closes a drawer over the view
      if (event.key === "Escape" && narrow()) { set(trame, "show_layers", false); set(trame, "show_inspector", false); }
    });
    await window.twinI18n.init(trame);
    const claim = await call(trame, "twin_claim", []);
    if (!claim) return;
    set(trame, "my_view", claim.view);
    if (S(trame, "rendering") === "client") await apply(trame);  // fetch this browser's scene
    window.sessionStorage.removeItem(KEPT);  // read once (restoring); from now on this page keeps its own
    if (restoring && restoring.tool) set(trame, "tool", restoring.tool);
    const fragment = window.location.hash.replace(/^#/, "") || (restoring && restoring.fragment) || "";
    if (fragment) {
      const reply = await call(trame, "twin_restore", [claim.view, fragment]);
      if (reply) {
        if (reply.rendering) set(trame, "rendering", reply.rendering);
        set(trame, "cfg", reply.config);
        if (reply.inspector) showInspector(trame, reply);
      }
    }
    set(trame, "ready", true);
    window.setInterval(() => pollFrame(trame), 2000);
    window.setInterval(() => remember(trame), REMEMBER_MS);
  }

  return { init, apply, setCfg, toggleLayer, setOpacity, setClip, select, clearSelection, down, up, pick, hover,
           search, choose, action, look, saveBookmark, screenshot, share, setRendering, toast, keep, kept, remember,
           call, camera: localCamera };
})();
