/* backup-codes web components, part 1 of 5 (base.js, settings.js, admin-reset.js,
 * account-members.js, challenge.js, served as one file in that order): <backup-codes-settings>,
 * <backup-codes-admin-reset>, <backup-codes-account-members> and <backup-codes-challenge>. A classic script with no dependencies, no inline style or script (it
 * runs under `Content-Security-Policy: default-src 'self'`), served by the API at
 * /v1/ui/backup-codes.js. The page owns the look (CSS custom properties, ::part) and the words
 * (the `strings` property, or window.BackupCodes.strings for every element at once). Codes are
 * never put in an event, a log, a URL or an attribute. */
(() => {
  'use strict';
  if (window.BackupCodes) return;
  const here = document.currentScript && document.currentScript.src;
  // Where the script came from is where the API is, unless the element's api-base says otherwise.
  const servedFrom = here ? here.replace(/\/v1\/ui\/[^/]*$/, '') : '';

  const strings = {
    title: 'Two-factor authentication',
    off: 'Two-factor authentication is off. Add a code from an authenticator app to your sign-in.',
    setUp: 'Set up an authenticator app',
    scanTitle: 'Scan this QR code',
    scanHelp: 'Scan it with your authenticator app, then enter the 6-digit code the app shows.',
    qrLabel: 'QR code for your authenticator app',
    typeKey: "Can't scan it? Type this key",
    appCode: 'The 6-digit code your app shows',
    confirm: 'Confirm',
    cancel: 'Cancel',
    codesTitle: 'Save your backup codes',
    codesHelp: 'Each code signs you in once if you cannot use your phone. They are shown only now.',
    codesPending: 'Your old codes keep working until you continue (by {time}).',
    codesList: 'Your backup codes',
    download: 'Download',
    print: 'Print',
    copy: 'Copy',
    copied: 'Codes copied.',
    copyFailed: 'Could not copy: select the codes and copy them yourself.',
    saved: 'I have saved these codes',
    continue: 'Continue',
    activated: 'Your new backup codes are active; the old ones no longer work.',
    enrolledDone: 'Two-factor authentication is on.',
    app: 'Authenticator app',
    onSince: 'On since {date}',
    replacing: 'A new authenticator is being set up: started {time} from IP {ip} ({device}). If this was not you, cancel it and change your password.',
    cancelReplacement: 'Cancel the new authenticator',
    replacementCancelled: 'The new authenticator was cancelled. Your current app keeps working.',
    noReplacement: 'No new authenticator is being set up any more.',
    codes: 'Backup codes',
    left: '{remaining} of {total} left, made {date}',
    none: 'None',
    low: 'Only {remaining} backup codes left. Make new ones before you run out.',
    pendingSet: 'New codes made {time} were never saved; they are dropped {expires}. Make new codes to see a set again.',
    pendingDownload: 'An administrator reset your codes: open the link we emailed you to collect the new ones.',
    used: 'Used codes ({count})',
    usedAt: 'Code {number}, used {time}',
    usedAtUnnumbered: 'Used {time}',
    signInAgain: 'For your security you are signed out everywhere: sign in again on your other devices, and here when asked.',
    regenerate: 'Make new backup codes',
    regenerateInfo: 'You will see a new set once. Your current codes keep working until you save the new ones.',
    remove: 'Remove backup codes',
    removeInfo: 'Every backup code stops working now. Your authenticator app keeps working.',
    removed: 'Your backup codes were removed.',
    replace: 'Replace the authenticator',
    replaceInfo: 'Set up a new phone. The current app keeps working until the new one confirms its first code.',
    lost: "I don't have my phone",
    lostInfo: 'Use one of your backup codes to set up a new phone. That code is then used up.',
    lostProof: 'One of your backup codes',
    replaced: 'Your new authenticator is set up; the old one no longer works.',
    disable: 'Turn two-factor off',
    disableInfo: 'Your authenticator and every backup code stop working, and you sign in with your password alone.',
    disabled: 'Two-factor authentication is off.',
    proof: 'A code from your authenticator app or a backup code',
    activity: 'Recent security activity',
    noActivity: 'No security events yet.',
    more: 'Show more',
    eventLine: '{when} · IP {ip} · {browser}',
    unknown: 'unknown',
    loading: 'Loading…',
    requiredBy: 'Two-factor authentication is required by {accounts}, so it stays on.',
    requiredOff: 'An account you belong to requires two-factor authentication, so it cannot be turned off.',
    adminTitle: 'Two-factor for {user}',
    adminIntro: 'Reset the backup codes of a user who lost them, or turn two-factor off for a user who lost both the phone and the codes.',
    adminReset: 'Reset backup codes',
    adminResetInfo: "{user}'s current codes stop working at once, and we email {user} a link to collect new ones.",
    adminOff: 'Turn two-factor off',
    adminOffInfo: '{user} will sign in with the password alone until they set up two-factor again.',
    adminProof: 'Your own code (authenticator app or backup code)',
    adminResetDone: 'Done. The old codes no longer work; we emailed {user} a link to their new codes, valid until {time}.',
    adminOffDone: 'Two-factor is off for {user}.',
    membersTitle: 'Users of {account}',
    ruleRequired: 'Two-factor authentication is required: every member signs in with a second factor, and none can turn it off.',
    ruleOptional: 'Two-factor authentication is optional: each member chooses.',
    require: 'Require two-factor',
    requireInfo: 'Members without an authenticator set one up at their next sign-in, and no member can turn it off. The other admins are emailed.',
    relax: 'Make two-factor optional',
    relaxInfo: 'Each member chooses again whether to use two-factor. The other admins are emailed.',
    members: 'Members',
    role: 'Role',
    role_admin: 'Admin',
    role_member: 'Member',
    twoFactor: 'Two-factor',
    on: 'On',
    offShort: 'Off',
    lastCode: 'Last code',
    lastCodeLine: '{when} ({how})',
    how_totp: 'app',
    how_backup_code: 'backup code',
    linkWaiting: 'Reset link sent, valid until {time}',
    open: 'Manage',
    noMembers: 'This account has no members yet.',
    back: 'Back to the users',
    notMember: '{user} is not a member of this account.',
    challengeTitle: 'Enter your code',
    challengeProof: 'A code from your authenticator app or a backup code',
    challengeEnrollTitle: 'Set up two-factor authentication',
    verify: 'Verify',
    signedIn: 'Signed in.',
    signedInWithCode: 'You signed in with a backup code. That code is used up now.',
    codesLeft: '{count} codes left: make new ones',
    codesLeftOne: '1 code left: make new ones',
    makeFirstCodes: 'Two-factor is on: make your backup codes now',
    challengeWrong: "That code didn't work. Try again, or use a backup code.",
    challengeOver: 'The sign-in could not continue. Start again from the password.',
    lostAll: 'I have lost my phone and my backup codes',
    lostAllInfo: "We will ask your account's administrators to reset your two-factor authentication. They check that it is really you, for example by calling you, before they do. We email you at once, with a link to cancel if it was not you.",
    lostAllAsk: 'Ask my administrators',
    asked: 'Your administrators have been asked',
    askedInfo: 'We emailed you. Once an administrator has checked that it is you, you get an email with a link to new backup codes; sign in with one of them, then set up your new phone. You cannot sign in until then.',
    askFailed: 'The request could not be sent. Contact your administrator.',
    requests: 'Requests to reset two-factor',
    noRequests: 'No open requests.',
    requestLine: 'Asked {when} from IP {ip} ({device})',
    requestLineReported: 'Asked {when} from IP {ip} ({device}), as the sign-in reported',
    requestWaiting: 'Can be approved from {time}, so that {user} can cancel it first if it was not them.',
    approve: 'Approve',
    deny: 'Deny',
    approveTitle: 'Approve the request of {user}',
    approveInfo: 'Before you approve, check that it really is {user} through a channel you already trust: call a number you have on file, or see them in person. Never use a number or an address the request or a new mail gives you. Approving resets their backup codes and emails them a link to new ones.',
    denyTitle: 'Deny the request of {user}',
    denyReason: 'Reason, emailed to {user} (optional)',
    approved: 'Approved: {user} was emailed a link to new backup codes, valid until {time}.',
    denied: 'Denied: {user} was emailed.',
    requestClosed: 'This request is closed already: answered, cancelled or expired.',
    requestWaiting2: 'This request cannot be approved before {time}.',
    wrongCode: "That code didn't work. Check it and try again.",
    locked: 'Too many wrong codes. Try again in {minutes} minutes.',
    unavailable: 'The service is busy. Try again shortly.',
    expired: 'Your session has expired. Sign in again.',
    forbidden: 'You are not allowed to do this.',
    notEnrolled: 'Two-factor authentication is not set up.',
    federated: 'You sign in through your organization\u2019s identity provider (single sign-on), which takes care of your second factor. There is nothing to set up here.',
    userNotEnrolled: '{user} has not set up two-factor authentication.',
    userHasNoEmail: '{user} has no email address to send the link to.',
    emailFailed: 'The email could not be sent; nothing changed. Try again.',
    setExpired: 'These codes expired before they were saved. Make new ones.',
    network: 'The service could not be reached. Check your connection and try again.',
    failed: 'Something went wrong ({error}). Try again.',
    ev_enrolled: 'Two-factor turned on',
    ev_codes_issued: 'Backup codes made',
    ev_backup_code_used: 'A backup code was used',
    ev_totp_used: 'Signed in with the authenticator app',
    ev_codes_regenerated: 'New backup codes saved',
    ev_codes_removed: 'Backup codes removed',
    ev_codes_reset_by_admin: 'An administrator reset your codes',
    ev_download_link_redeemed: 'Emailed codes collected',
    ev_download_link_refused: 'An emailed link was refused',
    ev_locked_out: 'Locked after wrong codes',
    ev_two_factor_disabled: 'Two-factor turned off',
    ev_authenticator_replaced: 'Authenticator replaced',
    ev_replacement_started: 'A new authenticator was started',
    ev_replacement_cancelled: 'A new authenticator was cancelled',
    ev_email_changed: 'Security mails now go to a new address',
    ev_membership_added: 'You were added to an account',
    ev_membership_changed: 'Your role in an account changed',
    ev_membership_removed: 'You were removed from an account',
    ev_two_factor_rule_changed: "An account's two-factor rule changed",
    ev_recovery_requested: 'A reset of two-factor was requested',
    ev_recovery_cancelled: 'A reset request was cancelled',
    ev_recovery_approved: 'A reset request was approved',
    ev_recovery_denied: 'A reset request was denied',
    ev_recovery_expired: 'A reset request expired unanswered',
  };

  const sheet = new CSSStyleSheet();
  sheet.replaceSync(`
:host{display:block;font:var(--backup-codes-font,inherit);color:var(--backup-codes-text,inherit);--a:var(--backup-codes-accent,#1b4ed8);--r:var(--backup-codes-radius,.4rem)}
.card{border:1px solid var(--backup-codes-border,#c9ced6);border-radius:var(--r);padding:1rem 1.25rem;background:var(--backup-codes-background,#fff)}
h2{font-size:1.2rem;margin:0 0 .75rem}h3{font-size:1rem;margin:1.25rem 0 .5rem}h2:focus,h3:focus{outline:none}
button,a.button{font:inherit;text-decoration:none;display:inline-block;padding:.45rem .9rem;border-radius:var(--r);border:1px solid var(--a);background:#fff;color:var(--a);cursor:pointer;margin:.25rem .5rem .25rem 0}
button.primary{background:var(--a);color:#fff}button.danger{border-color:#b3261e;background:#b3261e;color:#fff}
button:disabled{opacity:.55;cursor:not-allowed}:focus-visible{outline:3px solid var(--backup-codes-focus,#f5a623);outline-offset:2px}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}label.check{font-weight:400}
input[type=text]{font:inherit;font-size:1.1rem;padding:.4rem .6rem;border:1px solid #767676;border-radius:var(--r);width:14rem;max-width:100%;letter-spacing:.05em}
.codes{columns:2;font-family:ui-monospace,monospace;font-size:1.1rem;padding-left:2rem;margin:.75rem 0}.codes li{margin:.15rem 0}
.error{color:#b3261e;font-weight:600}.error:empty,.status:empty{display:none}.status{margin:.5rem 0}
.warn{background:#fff4d6;border-left:4px solid #e0a100;padding:.5rem .75rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:0 0 .75rem}dt{font-weight:600}dd{margin:0}
.qr svg{width:200px;height:200px;display:block;background:#fff}.key{font-family:ui-monospace,monospace;word-spacing:.3em}
ul.events{list-style:none;padding:0;margin:0}ul.events li{padding:.35rem 0;border-bottom:1px solid #e3e6ea}.muted{color:#555;font-size:.92rem}
.print-only{display:none}[hidden]{display:none!important}
@media print{.card{border:0;padding:0}.status,.error{display:none!important}.card>*:not(.printable){display:none!important}.print-only{display:block}}`);
  // While codes are on screen, printing the page prints them and nothing else of the page.
  const pageSheet = new CSSStyleSheet();
  pageSheet.replaceSync(`@media print{body *{visibility:hidden}[data-backup-codes-print]{visibility:visible;position:fixed;top:0;left:0;right:0}}`);

  const h = (tag, props, ...kids) => {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else if (key === 'text') el.textContent = value;
      else el.setAttribute(key, value === true ? '' : value);
    }
    el.append(...kids.flat().filter((k) => k != null && k !== false));
    return el;
  };
  let unique = 0;
  const uid = () => `bc-${++unique}`;

  class Base extends HTMLElement {
    constructor() {
      super();
      this.strings = {};
      const root = this.attachShadow({ mode: 'open' });
      root.adoptedStyleSheets = [sheet];
      this.view = h('div', { class: 'card', part: 'card' });
      this.alert = h('p', { class: 'error', part: 'error', role: 'alert' });
      this.status = h('p', { class: 'status', part: 'status', role: 'status' });
      root.append(h('div', { part: 'container' }, this.status, this.alert, this.view));
      // Focus follows new content only once the person has acted here, never on the page's load.
      const engage = () => { this.engaged = true; };
      root.addEventListener('click', engage, true);
      root.addEventListener('keydown', engage, true);
    }

    connectedCallback() {
      if (!this.started) {
        this.started = true;
        this.start();
      }
    }

    t(key, vars) {
      const text = String(this.strings[key] ?? strings[key] ?? key);
      return text.replace(/\{(\w+)\}/g, (all, name) => (vars && name in vars ? vars[name] : all));
    }

    when(time) {
      if (!time) return this.t('unknown');
      return new Date(time).toLocaleString(this.getAttribute('lang') || undefined, { dateStyle: 'medium', timeStyle: 'short' });
    }

    say(text) {
      this.alert.textContent = '';
      this.status.textContent = text || '';
    }

    // `problem` is what `call` threw; anything else (a script error) still reads as a sentence.
    fail(problem) {
      this.status.textContent = '';
      const readable = problem && !(problem instanceof Error) && typeof problem.message === 'string';
      this.alert.textContent = readable ? problem.message : this.t('failed', { error: 'unexpected' });
    }

    // Replaces the card's content and moves focus to its heading, so a screen reader reads on from there.
    show(...nodes) {
      this.view.replaceChildren(...nodes.filter((n) => n != null && n !== false));
      this.toggleAttribute('data-backup-codes-print', !!this.view.querySelector('.printable'));
      const target = this.view.querySelector('[data-focus]') || this.view.querySelector('h2');
      if (target && this.engaged) {
        if (!target.matches('input,button')) target.tabIndex = -1;
        target.focus();
      }
    }

    emit(name, detail) {
      this.dispatchEvent(new CustomEvent(`backup-codes-${name}`, { bubbles: true, composed: true, detail }));
    }

    async call(method, path, options = {}) {
      const headers = { Accept: options.file ? 'text/plain' : 'application/json' };
      let token = null;
      try {
        token = typeof this.getToken === 'function' ? await this.getToken() : null;
      } catch (e) {
        token = null;
      }
      if (!token) throw { status: 401, message: this.t('expired') };
      headers.Authorization = `Bearer ${token}`;
      // The proof travels in a header, never in a URL.
      if (options.proof) headers['X-OTP'] = options.proof;
      if (options.body) headers['Content-Type'] = 'application/json';
      let response;
      try {
        response = await fetch((this.getAttribute('api-base') || servedFrom).replace(/\/$/, '') + path, {
          method, headers, body: options.body && JSON.stringify(options.body), credentials: 'omit', cache: 'no-store',
        });
      } catch (e) {
        throw { status: 0, message: this.t('network') };
      }
      const text = response.status === 204 ? '' : await response.text();
      const json = (response.headers.get('Content-Type') || '').includes('json') && text ? JSON.parse(text) : null;
      if (response.ok) return { response, text, json };
      throw this.problem(response, json || {});
    }

    problem(response, body) {
      const after = Number(response.headers.get('Retry-After') || body.retry_after_seconds) || 60;
      const vars = { minutes: Math.max(1, Math.ceil(after / 60)), user: this.getAttribute('user-id'), error: body.error || response.status, time: this.when(body.approvable_from) };
      const keys = {
        invalid_code: 'wrongCode', totp_required: 'wrongCode', locked: 'locked', unavailable: 'unavailable',
        unauthenticated: 'expired', forbidden: 'forbidden', not_enrolled: 'notEnrolled', user_not_enrolled: 'userNotEnrolled',
        user_has_no_email: 'userHasNoEmail', email_failed: 'emailFailed', set_not_pending: 'setExpired',
        no_pending_replacement: 'noReplacement', two_factor_required: 'requiredOff', not_found: 'notMember',
        recovery_closed: 'requestClosed', recovery_request_not_found: 'requestClosed', recovery_waiting: 'requestWaiting2',
        federated_user: 'federated',
      };
      const key = keys[body.error] || (response.status === 503 ? 'unavailable' : response.status === 429 ? 'locked' : 'failed');
      return { status: response.status, code: body.error, message: this.t(key, vars), retryAfter: after };
    }

    // A form asking for one code; `act` runs with it, and a refusal leaves the form for another try.
    codeForm(label, submit, act, options = {}) {
      const id = uid();
      const input = h('input', {
        id, type: 'text', name: 'code', inputmode: options.digits ? 'numeric' : 'text', autocomplete: 'one-time-code',
        autocapitalize: 'off', spellcheck: 'false', required: true, maxlength: '32', part: 'input', 'data-focus': options.focus,
      });
      const button = h('button', { type: 'submit', class: options.danger ? 'danger' : 'primary', part: 'button', text: submit });
      const form = h('form', {
        onsubmit: async (event) => {
          event.preventDefault();
          const code = input.value.trim();
          if (!code) return input.focus();
          button.disabled = true;
          try {
            await act(code);
          } catch (problem) {
            this.fail(problem);
            input.value = '';
            input.focus();
          } finally {
            button.disabled = false;
          }
        },
      }, h('label', { for: id, text: label }), input, h('div', null, button, options.cancel &&
        h('button', { type: 'button', part: 'button', text: this.t('cancel'), onclick: options.cancel })));
      return form;
    }

    // The QR is data, not markup: only a path's outline and a colour are taken from the API's
    // SVG, into elements made here, so nothing in it can run or link anywhere.
    qr(svgText) {
      const ns = 'http://www.w3.org/2000/svg';
      const parsed = new DOMParser().parseFromString(svgText || '<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml');
      const from = parsed.documentElement;
      const number = (name) => (/^\d{1,4}$/.test(from.getAttribute(name) || '') ? from.getAttribute(name) : null);
      const box = /^0 0 \d{1,4} \d{1,4}$/.test(from.getAttribute('viewBox') || '') ? from.getAttribute('viewBox') : `0 0 ${number('width') || 0} ${number('height') || 0}`;
      const svg = document.createElementNS(ns, 'svg');
      svg.setAttribute('viewBox', box);
      svg.setAttribute('shape-rendering', 'crispEdges');
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', this.t('qrLabel'));
      for (const kid of from.children) {
        const d = kid.getAttribute('d') || '';
        const fill = kid.getAttribute('fill') || '#000';
        if (kid.localName !== 'path' || !/^[MmHhVvZz0-9 .-]*$/.test(d) || !/^#[0-9a-fA-F]{3,6}$/.test(fill)) continue;
        const path = document.createElementNS(ns, 'path');
        path.setAttribute('d', d);
        path.setAttribute('fill', fill);
        svg.append(path);
      }
      return h('div', { class: 'qr', part: 'qr' }, svg);
    }

    // The challenge carries the QR as its modules ("<width>.<base64 bits>"), far smaller than an SVG.
    qrModules(packed) {
      const [width, bits] = String(packed || '').split('.');
      // A QR code has 21 to 177 modules a side: anything else draws nothing.
      const size = /^\d{2,3}$/.test(width) && Number(width) >= 21 && Number(width) <= 177 ? Number(width) : 0;
      const bytes = atob((bits || '').replace(/-/g, '+').replace(/_/g, '/'));
      let d = '';
      for (let i = 0; i < size * size; i++) {
        if (bytes.charCodeAt(i >> 3) & (128 >> (i & 7))) d += `M${(i % size) + 4} ${Math.floor(i / size) + 4}h1v1h-1z`;
      }
      const ns = 'http://www.w3.org/2000/svg';
      const svg = document.createElementNS(ns, 'svg');
      svg.setAttribute('viewBox', `0 0 ${size + 8} ${size + 8}`);
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', this.t('qrLabel'));
      const path = document.createElementNS(ns, 'path');
      path.setAttribute('d', d);
      path.setAttribute('fill', '#000');
      svg.append(path);
      return h('div', { class: 'qr', part: 'qr' }, svg);
    }

    // A list read page by page from `path` (the audit's paging): `field` of each answer, each
    // item drawn by `item`, and a "Show more" while there is a next page.
    paged(path, field, item, empty, limit = 5) {
      const list = h('ul', { class: 'events', part: field === 'events' ? 'activity' : field });
      const more = h('button', { type: 'button', part: 'button', hidden: true, text: this.t('more') });
      let next = null;
      const page = async () => {
        try {
          const query = `?limit=${limit}${next ? `&next=${encodeURIComponent(next)}` : ''}`;
          const { json } = await this.call('GET', path + query);
          json[field].forEach((x) => list.append(item(x)));
          if (!list.children.length) list.append(h('li', { class: 'muted', text: this.t(empty) }));
          next = json.next;
          more.hidden = !next;
        } catch (problem) {
          this.fail(problem);
        }
      };
      more.addEventListener('click', page);
      page();
      return [list, more];
    }

    // The security events of the trail at `path`, newest first.
    activity(path) {
      return h('section', null, h('h3', { text: this.t('activity') }), this.paged(path, 'events', (e) => h('li', null,
        h('strong', { text: this.t(`ev_${e.type}`) }), h('br'),
        h('span', { class: 'muted', text: this.t('eventLine', { when: this.when(e.time), ip: e.ip || this.t('unknown'), browser: e.device || this.t('unknown') }) })), 'noActivity'));
    }

    secretKey(secret) {
      return h('details', null, h('summary', { text: this.t('typeKey') }),
        h('p', { class: 'key', part: 'key', text: String(secret || '').replace(/(.{4})/g, '$1 ').trim() }));
    }
  }

  const define = (name, type) => customElements.get(name) || customElements.define(name, type);
  window.BackupCodes = { strings, Base, h, uid, define };
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, pageSheet];
})();
