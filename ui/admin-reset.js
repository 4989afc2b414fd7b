/* <backup-codes-admin-reset user-id="..." [account-id="..."]>: an admin resets a user's codes
 * or turns their two-factor off, behind the admin's own code, and sees their activity. With
 * account-id, through that account's routes, as its admin (needs base.js). */
(() => {
  'use strict';
  const { Base, h, define } = window.BackupCodes;

  class AdminReset extends Base {
    static get observedAttributes() { return ['user-id', 'account-id']; }

    attributeChangedCallback() {
      if (this.started) this.start();
    }

    start() {
      const user = this.getAttribute('user-id') || '';
      const account = this.getAttribute('account-id');
      const path = account == null ? `/v1/admin/users/${encodeURIComponent(user)}`
        : `/v1/accounts/${encodeURIComponent(account)}/members/${encodeURIComponent(user)}`;
      const detail = account == null ? { user_id: user } : { account_id: account, user_id: user };
      const ask = (name, act) => () => {
        this.say('');
        this.show(h('h2', { text: this.t(name) }), h('p', { text: this.t(`${name}Info`, { user }) }),
          this.codeForm(this.t('adminProof'), this.t(name), act, { danger: true, cancel: () => this.start(), focus: true }));
      };
      this.say('');
      this.show(h('h2', { text: this.t('adminTitle', { user }) }), h('p', { text: this.t('adminIntro') }),
        h('button', { type: 'button', part: 'button', text: this.t('adminReset'), onclick: ask('adminReset', async (proof) => {
          const { json } = await this.call('POST', `${path}/backup-codes`, { proof });
          this.emit('admin-reset', { ...detail, expires_at: json.expires_at });
          this.done(this.t('adminResetDone', { user, time: this.when(json.expires_at) }));
        }) }),
        h('button', { type: 'button', part: 'button', class: 'danger', text: this.t('adminOff'), onclick: ask('adminOff', async (proof) => {
          await this.call('DELETE', `${path}/totp`, { proof });
          this.emit('admin-two-factor-disabled', detail);
          this.done(this.t('adminOffDone', { user }));
        }) }),
        this.activity(`${path}/audit`));
    }

    done(message) {
      this.show(h('h2', { text: this.t('adminTitle', { user: this.getAttribute('user-id') }) }), h('p', { text: message }),
        h('button', { type: 'button', part: 'button', text: this.t('continue'), onclick: () => this.start() }));
      this.say(message);
    }
  }

  // The code step of a Cognito custom-auth sign-in. The page sets `parameters` (the challenge's
  // public parameters: Amplify's nextStep.additionalInfo) and `answer`, an async function that

  define('backup-codes-admin-reset', AdminReset);
})();
