/* <backup-codes-account-members account-id="...">: an account admin's Users page. The account's
 * members page by page, each opened to reset their codes, turn their two-factor off or read
 * their activity (a <backup-codes-admin-reset> on the account's routes), and the account's
 * two-factor rule, changed behind the admin's own code (needs base.js and admin-reset.js). */
(() => {
  'use strict';
  const { Base, h, define } = window.BackupCodes;

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
      this.show(h('h2', { text: this.t('membersTitle', { account }) }),
        h('p', { text: this.t(required ? 'ruleRequired' : 'ruleOptional') }),
        h('button', { type: 'button', part: 'button', text: this.t(change), onclick: () => this.ask(change, required ? 'optional' : 'required') }),
        h('h3', { text: this.t('members') }), list, more);
      this.say(message || '');
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
