"use strict";
// Live page: one EventSource for custody events, periodic refresh of stock and counters.
const ETAPES = { declare: "déclaration", collect: "collecte", ship: "expédition", receive: "réception",
  inspect: "diagnostic", erase_data: "effacement des données", refurbish: "reconditionnement",
  list: "mise en vente", reserve: "réservation", release: "fin de réservation", sell: "vente",
  donate: "don", dismantle: "démantèlement", recycle: "recyclage", pack: "mise en lot", unpack: "sortie de lot" };
const ETATS = { declared: "déclaré", collected: "collecté", in_transit: "en transit", received: "réceptionné",
  inspected: "diagnostiqué", data_erased: "données effacées", refurbished: "reconditionné", listed: "en vente",
  reserved: "réservé", sold: "vendu", donated: "donné", dismantled: "démantelé", recycled: "recyclé" };
const CATEGORIES = { laptop: "ordinateur portable", desktop: "ordinateur fixe", screen: "écran",
  phone: "smartphone", tablet: "tablette", server: "serveur", network: "équipement réseau" };
let sites = {};

function cell(text) { const td = document.createElement("td"); td.textContent = text ?? "—"; return td; }
function nomSite(id) { return id ? (sites[id] || id) : "—"; }

function ajouterEvenement(ev, nouveau) {
  const tr = document.createElement("tr");
  if (nouveau) tr.className = "nouveau";
  const heure = new Date(ev.time).toLocaleTimeString("fr-FR");
  const lien = document.createElement("td");
  const a = document.createElement("a");
  a.href = "/api/assets/" + ev.asset_id;
  a.textContent = (CATEGORIES[ev.category] || ev.category) + " n° " + ev.asset_id;
  lien.appendChild(a);
  tr.append(cell(heure), lien, cell(ETAPES[ev.step] || ev.step), cell(nomSite(ev.site_from)),
            cell(nomSite(ev.site_to)), cell(ETATS[ev.state] || ev.state));
  const corps = document.getElementById("flux");
  corps.prepend(tr);
  while (corps.rows.length > 40) corps.deleteRow(-1);
}

async function chargerStock() {
  const r = await fetch("/api/stock");
  const data = await r.json();
  const parSite = new Map();
  for (const row of data.items) {
    const k = row.site_id + "|" + row.category;
    const e = parSite.get(k) || { site: row.site_name, cat: row.category_label, prep: 0, dispo: 0 };
    if (row.available) e.dispo += row.units; else e.prep += row.units;
    parSite.set(k, e);
  }
  const corps = document.getElementById("stock");
  corps.replaceChildren(...[...parSite.values()].map(e => {
    const tr = document.createElement("tr");
    tr.append(cell(e.site), cell(e.cat), cell(String(e.prep)), cell(String(e.dispo)));
    return tr;
  }));
}

async function chargerCompteurs() {
  const r = await fetch("/api/ingest/stats");
  const s = await r.json();
  const dl = document.getElementById("compteurs");
  const lignes = [["Événements au registre", s.ledger_events]];
  for (const [k, v] of Object.entries(s.sightings_by_result)) lignes.push(["Lectures " + k, v]);
  for (const [k, v] of Object.entries(s.dead_letters_by_reason)) lignes.push(["Refusés (" + k + ")", v]);
  dl.replaceChildren(...lignes.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = String(v);
    return [dt, dd];
  }));
}

async function demarrer() {
  for (const s of await (await fetch("/api/sites")).json()) sites[s.id] = s.name;
  const recents = await (await fetch("/api/events/recent?limit=30")).json();
  for (const ev of recents.reverse()) ajouterEvenement(ev, false);
  await Promise.all([chargerStock(), chargerCompteurs()]);
  const etat = document.getElementById("etat");
  const source = new EventSource("/api/live");
  source.onopen = () => { etat.textContent = "Flux en direct connecté."; };
  source.onerror = () => { etat.textContent = "Flux interrompu, reconnexion…"; };
  source.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "custody") ajouterEvenement(msg, true);
  };
  setInterval(() => { chargerStock(); chargerCompteurs(); }, 3000);
}
demarrer();
