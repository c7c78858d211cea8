// Render the first page of users and agents; search users by e-mail.
function renderList(element, items, label) {
  element.innerHTML = "";
  for (const item of items) {
    const li = document.createElement("li");
    li.textContent = label(item);
    if (item.status) li.className = `status-${item.status}`;
    element.appendChild(li);
  }
}
async function refresh() {
  try {
    const users = await apiGet("/api/v1/users?limit=10");
    renderList(document.getElementById("user-list"), users.items, (u) => `${u.name} <${u.email}>`);
    const agents = await apiGet("/api/v1/agents?limit=10");
    renderList(document.getElementById("agent-list"), agents.items, (a) => `${a.name} (${a.status})`);
  } catch (err) { console.warn(err); }
}
document.getElementById("search").addEventListener("change", async (event) => {
  const found = await apiGet(`/api/v1/users?email=${encodeURIComponent(event.target.value)}`);
  renderList(document.getElementById("user-list"), found.items, (u) => `${u.name} <${u.email}>`);
});
refresh();
