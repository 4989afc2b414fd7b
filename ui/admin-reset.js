/* <backup-codes-admin-reset user-id="...">: an admin resets a user's codes or turns their
 * two-factor off, behind the admin's own code (needs base.js). */
(() => {
  'use strict';
  const { Base, h, define } = window.BackupCodes;

  class AdminReset extends Base {
    static get observedAttributes() { return ['user-id']; }

    attributeChangedCallback() {
      if (this.started) this.start();
    }

    start() {
      const user = this.getAttribute('user-id') || '';
      const path = `/v1/admin/users/${encodeURIComponent(user)}`;
      const ask = (name, act) => () => {
        this.say('');
        this.show(h('h2', { text: this.t(name) }), h('p', { text: this.t(`${name}Info`, { user }) }),
          this.codeForm(this.t('adminProof'), this.t(name), act, { danger: true, cancel: () => this.start(), focus: true }));
      };
      this.say('');
      this.show(h('h2', { text: this.t('adminTitle', { user }) }), h('p', { text: this.t('adminIntro') }),
        h('button', { type: 'button', part: 'button', text: this.t('adminReset'), onclick: ask('adminReset', async (proof) => {
          const { json } = await this.call('POST', `${path}/backup-codes`, { proof });
          this.emit('admin-reset', { user_id: user, expires_at: json.expires_at });
          this.done(this.t('adminResetDone', { user, time: this.when(json.expires_at) }));
        }) }),
        h('button', { type: 'button', part: 'button', class: 'danger', text: this.t('adminOff'), onclick: ask('adminOff', async (proof) => {
          await this.call('DELETE', `${path}/totp`, { proof });
          this.emit('admin-two-factor-disabled', { user_id: user });
          this.done(this.t('adminOffDone', { user }));
        }) }));
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
