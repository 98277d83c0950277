// CIM Twin browser helpers: per-browser state lives here (client-only trame keys), and every
// server action goes through a trigger that answers this browser alone.
window.twinUI = (function () {
  const S = (trame, key) => trame.state.get(key);
  const set = (trame, key, value) => trame.state.set(key, value);
  let pointerDown = null;
  let moved = false;

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
      return reply;
    } catch (err) {
      toast(trame, "The server did not answer: " + (err && err.message ? err.message : err));
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

  function showInspector(trame, reply) {
    if (!reply) return;
    set(trame, "inspector", reply.inspector || null);
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

  function down(event) { pointerDown = [event.clientX, event.clientY]; moved = false; }
  function up(event) {
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

  async function init(trame) {
    const claim = await call(trame, "twin_claim", []);
    if (!claim) return;
    set(trame, "my_view", claim.view);
    if (S(trame, "rendering") === "client") await apply(trame);  // fetch this browser's scene
    const fragment = window.location.hash.replace(/^#/, "");
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
  }

  return { init, apply, setCfg, toggleLayer, setOpacity, setClip, select, clearSelection, down, up, pick,
           search, choose, action, look, saveBookmark, screenshot, share, setRendering, toast };
})();
