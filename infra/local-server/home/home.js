// The local home page: a name stands in for a sign-in, and the components do the rest.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  let token = null;
  let user = null;

  const base64url = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  // Unsigned, like the README's curl walk: the local server reads claims and checks nothing else.
  const localToken = (name, admin) => `e30.${base64url(JSON.stringify({
    sub: name, email: `${name}@example.com`, 'cognito:groups': admin ? ['backup-codes-admins'] : [],
  }))}.local`;

  $('sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    user = $('user').value.trim();
    const admin = $('admin').checked;
    token = localToken(user, admin);
    $('who').textContent = `Signed in as ${user}${admin ? ' (admin)' : ''}.`;
    const settings = document.createElement('backup-codes-settings');
    settings.getToken = async () => token;
    $('settings-slot').replaceChildren(settings);
    $('verify-user').textContent = user;
    $('verdict').textContent = '';
    $('mine').hidden = false;
    $('try').hidden = false;
    $('admin-tools').hidden = !admin;
    $('admin-slot').replaceChildren();
    $('account-tools').hidden = false;
    $('account-slot').replaceChildren();
    $('recovery').hidden = false;
    $('asked').textContent = '';
  });

  // What a team's auth server does once the password passed and the user says they lost both.
  $('ask').addEventListener('click', async () => {
    const response = await fetch('/v1/recovery-requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: user, user_agent: navigator.userAgent }),
    });
    const answer = await response.json();
    $('asked').textContent = response.ok
      ? `Asked. ${user} is mailed (see the outbox), and so are the admins of ${user}'s accounts, if ${user} has set up two-factor and has an address.`
      : `Refused: ${answer.message}.`;
    refreshOutbox();
  });

  $('account').addEventListener('submit', (event) => {
    event.preventDefault();
    const members = document.createElement('backup-codes-account-members');
    members.setAttribute('account-id', $('account-id').value.trim());
    members.getToken = async () => token;
    $('account-slot').replaceChildren(members);
  });

  $('target').addEventListener('submit', (event) => {
    event.preventDefault();
    const reset = document.createElement('backup-codes-admin-reset');
    reset.setAttribute('user-id', $('target-user').value.trim());
    reset.getToken = async () => token;
    $('admin-slot').replaceChildren(reset);
  });

  $('verify').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('code');
    const response = await fetch('/v1/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: user, code: input.value }),
    });
    const answer = await response.json();
    input.value = '';
    if (answer.valid) {
      const left = answer.method === 'backup_code' ? `; ${answer.remaining_backup_codes} backup codes left` : '';
      $('verdict').textContent = `Accepted: ${answer.method === 'backup_code' ? 'a backup code' : 'the authenticator app'}${left}. Your auth server would issue the session now.`;
    } else if (response.status === 429) {
      $('verdict').textContent = `Refused: too many wrong codes; try again in ${Math.ceil(answer.retry_after_seconds / 60)} minutes.`;
    } else {
      $('verdict').textContent = `Refused: ${answer.message}.`;
    }
    refreshOutbox();
  });

  let shown = '';
  async function refreshOutbox() {
    const response = await fetch('/_local/outbox');
    if (!response.ok) return;
    const mails = await response.json();
    const ids = mails.map((m) => m.id).join();
    if (ids === shown) return;
    shown = ids;
    $('no-mail').hidden = mails.length > 0;
    $('mails').replaceChildren(...mails.map((mail) => {
      const item = document.createElement('li');
      const title = document.createElement('h3');
      title.textContent = mail.subject;
      const meta = document.createElement('p');
      meta.textContent = `To ${mail.to}, ${new Date(mail.date).toLocaleString()}`;
      const body = document.createElement('pre');
      body.textContent = mail.text;
      item.append(title, meta, body);
      for (const link of mail.links) {
        const a = document.createElement('a');
        a.href = link;
        a.textContent = 'Open the link in this mail';
        item.append(a);
      }
      return item;
    }));
  }
  document.addEventListener('backup-codes-codes-shown', refreshOutbox);
  document.addEventListener('backup-codes-admin-reset', refreshOutbox);
  document.addEventListener('backup-codes-rule-changed', refreshOutbox);
  document.addEventListener('backup-codes-recovery-approved', refreshOutbox);
  document.addEventListener('backup-codes-recovery-denied', refreshOutbox);
  refreshOutbox();
  setInterval(refreshOutbox, 3000);
})();
