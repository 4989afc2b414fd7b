/* <backup-codes-account-members account-id="...">: an account admin's Users page. The account's
 * members page by page, each opened to reset their codes, turn their two-factor off or read
 * their activity (a <backup-codes-admin-reset> on the account's routes), and the account's
 * two-factor rule, changed behind the admin's own code (needs base.js and admin-reset.js). */
(() => {
  'use strict';
  const { Base, h, uid, define } = window.BackupCodes;

  class AccountMembers extends Base {
    static get observedAttributes() { return ['account-id']; }

    attributeChangedCallback() {
      if (this.started) this.start();
    }

    get base() {
      return `/v1/accounts/${encodeURIComponent(this.getAttribute('account-id') || '')}`;
    }

    async start(message) {
      const account = this.getAttribute('account-id') || '';
      this.say(message || this.t('loading'));
      let rule;
      try {
        ({ json: rule } = await this.call('GET', `${this.base}/policy`));
      } catch (problem) {
        this.fail(problem);
        return;
      }
      const required = rule.two_factor === 'required';
      const change = required ? 'relax' : 'require';
      const [list, more] = this.paged(`${this.base}/members`, 'members', (m) => this.row(m), 'noMembers', 20);
      const requests = h('ul', { class: 'events', part: 'requests' });
      this.show(h('h2', { text: this.t('membersTitle', { account }) }),
        h('p', { text: this.t(required ? 'ruleRequired' : 'ruleOptional') }),
        h('button', { type: 'button', part: 'button', text: this.t(change), onclick: () => this.ask(change, required ? 'optional' : 'required') }),
        h('h3', { text: this.t('requests') }), requests,
        h('h3', { text: this.t('members') }), list, more);
      this.say(message || '');
      this.requests(requests);
    }

    // The open recovery requests of the account's members: who asked, when, from where, the
    // wait left, then approve (behind the admin's code, after the reminder) or deny.
    async requests(list) {
      let open;
      try {
        ({ json: { requests: open } } = await this.call('GET', `${this.base}/recovery-requests`));
      } catch (problem) {
        this.fail(problem);
        return;
      }
      if (!open.length) list.append(h('li', { class: 'muted', text: this.t('noRequests') }));
      for (const r of open) {
        const user = r.user_id;
        list.append(h('li', null, h('strong', { text: user }), h('br'),
          h('span', { class: 'muted', text: this.t(r.reported_by_sign_in_client ? 'requestLineReported' : 'requestLine', { when: this.when(r.filed_at), ip: r.ip || this.t('unknown'), device: r.device || this.t('unknown') }) }),
          r.waiting && h('p', { class: 'warn', text: this.t('requestWaiting', { time: this.when(r.approvable_from), user }) }),
          h('button', { type: 'button', part: 'button', disabled: r.waiting, 'aria-label': `${this.t('approve')} ${user}`, text: this.t('approve'), onclick: () => this.approve(r) }),
          h('button', { type: 'button', part: 'button', 'aria-label': `${this.t('deny')} ${user}`, text: this.t('deny'), onclick: () => this.deny(r) })));
      }
    }

    approve(r) {
      const user = r.user_id;
      this.say('');
      this.show(h('h2', { text: this.t('approveTitle', { user }) }), h('p', { class: 'warn', text: this.t('approveInfo', { user }) }),
        this.codeForm(this.t('adminProof'), this.t('approve'), async (proof) => {
          const { json } = await this.call('POST', `${this.base}/recovery-requests/${r.id}/approve`, { proof });
          this.emit('recovery-approved', { account_id: this.getAttribute('account-id'), user_id: user });
          this.start(this.t('approved', { user, time: this.when(json.expires_at) }));
        }, { cancel: () => this.start(), focus: true }));
    }

    deny(r) {
      const user = r.user_id;
      const id = uid();
      const reason = h('input', { id, type: 'text', maxlength: '500', part: 'input', 'data-focus': true });
      const submit = h('button', { type: 'submit', class: 'danger', part: 'button', text: this.t('deny') });
      this.say('');
      this.show(h('h2', { text: this.t('denyTitle', { user }) }), h('form', {
        onsubmit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          try {
            await this.call('POST', `${this.base}/recovery-requests/${r.id}/deny`, { body: { reason: reason.value } });
            this.emit('recovery-denied', { account_id: this.getAttribute('account-id'), user_id: user });
            this.start(this.t('denied', { user }));
          } catch (problem) {
            this.fail(problem);
            submit.disabled = false;
          }
        },
      }, h('label', { for: id, text: this.t('denyReason', { user }) }), reason,
      h('div', null, submit, h('button', { type: 'button', part: 'button', text: this.t('cancel'), onclick: () => this.start() }))));
    }

    row(m) {
      const facts = [this.t(`role_${m.role}`),
        `${this.t('twoFactor')}: ${this.t(m.enrolled ? 'on' : 'offShort')}`,
        m.enrolled && `${this.t('codes')}: ${m.remaining_codes}`,
        m.last_code && `${this.t('lastCode')}: ${this.t('lastCodeLine', { when: this.when(m.last_code.at), how: this.t(`how_${m.last_code.method}`) })}`,
        m.pending_link && this.t('linkWaiting', { time: this.when(m.pending_link.expires_at) })].filter(Boolean);
      return h('li', null, h('strong', { text: m.user_id }), h('br'),
        h('span', { class: m.low ? 'warn' : 'muted', text: facts.join(' · ') }), h('br'),
        h('button', { type: 'button', part: 'button', 'aria-label': `${this.t('open')} ${m.user_id}`, text: this.t('open'), onclick: () => this.open(m.user_id) }));
    }

    open(user) {
      const member = h('backup-codes-admin-reset', { 'user-id': user, 'account-id': this.getAttribute('account-id') || '', 'api-base': this.getAttribute('api-base'), lang: this.getAttribute('lang') });
      member.strings = this.strings;
      member.getToken = () => this.getToken();
      this.say('');
      this.show(h('button', { type: 'button', part: 'button', 'data-focus': true, text: this.t('back'), onclick: () => this.start() }), member);
    }

    ask(change, rule) {
      this.say('');
      this.show(h('h2', { text: this.t(change) }), h('p', { text: this.t(`${change}Info`) }),
        this.codeForm(this.t('adminProof'), this.t(change), async (proof) => {
          await this.call('PUT', `${this.base}/policy`, { proof, body: { two_factor: rule } });
          this.emit('rule-changed', { account_id: this.getAttribute('account-id'), two_factor: rule });
          this.start(this.t(rule === 'required' ? 'ruleRequired' : 'ruleOptional'));
        }, { cancel: () => this.start(), focus: true }));
    }
  }

  define('backup-codes-account-members', AccountMembers);
})();
