// Thin client of the lab backend (same host, port 8001 unless the page says otherwise).
const API_BASE = window.LAB_API_BASE || `${location.protocol}//${location.hostname}:8001`;
async function apiGet(path) {
  const response = await fetch(API_BASE + path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}
