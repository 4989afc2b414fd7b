/* <backup-codes-challenge>: the code step of a Cognito custom-auth sign-in (needs base.js). */
(() => {
  'use strict';
  const { Base, h, define } = window.BackupCodes;
  // The answer that asks for a recovery instead of giving a code; it can never be a code.
  const REQUEST_ANSWER = 'RECOVERY_REQUEST_LOST_PHONE_AND_CODES';

  // What the token guard told the ID token about this sign-in (docs/cognito.md): how the
  // challenge was passed and the backup codes left. Read for display only; the API checks tokens.
  function signInClaims(token) {
    try {
      const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
      const method = claims['backup_codes:method'];
      if (!['totp', 'backup_code', 'enrollment'].includes(method)) return {};
      const remaining = Number(claims['backup_codes:remaining']);
      return { method, remaining_codes: Number.isInteger(remaining) && remaining >= 0 ? remaining : 0, low: claims['backup_codes:low'] === 'true' };
    } catch (e) {
      return {};
    }
  }

  class Challenge extends Base {
    set parameters(value) {
      this.params = value || {};
      if (this.started) this.start();
    }

    get parameters() {
      return this.params || {};
    }

    start() {
      const p = this.parameters;
      const enrolling = p.type === 'TOTP_ENROLLMENT';
      this.show(h('h2', { text: this.t(enrolling ? 'challengeEnrollTitle' : 'challengeTitle') }),
        enrolling && h('p', { text: this.t('scanHelp') }), enrolling && this.qrModules(p.qr), enrolling && this.secretKey(p.secret),
        this.codeForm(this.t(enrolling ? 'appCode' : 'challengeProof'), this.t('verify'), (code) => this.send(code), { digits: enrolling, focus: true }),
        !enrolling && h('button', { type: 'button', part: 'button', text: this.t('lostAll'), onclick: () => this.lostAll() }));
    }

    lostAll() {
      this.say('');
      const ask = h('button', { type: 'button', class: 'primary', part: 'button', 'data-focus': true, text: this.t('lostAllAsk') });
      ask.addEventListener('click', async () => {
        ask.disabled = true;
        let result;
        try {
          result = await this.answer(REQUEST_ANSWER);
        } catch (e) {
          this.emit('sign-in-failed', {});
          this.fail({ message: this.t('challengeOver') });
          return;
        }
        const next = result && result.nextStep;
        if (next && next.additionalInfo) this.params = next.additionalInfo;
        if (this.parameters.recovery_request !== 'open') {
          this.start();
          this.fail({ message: this.t('askFailed') });
          return;
        }
        this.show(h('h2', { text: this.t('asked') }), h('p', { text: this.t('askedInfo') }));
        this.say(this.t('asked'));
        this.emit('recovery-requested', {});
      });
      this.show(h('h2', { text: this.t('lostAll') }), h('p', { text: this.t('lostAllInfo') }), ask,
        h('button', { type: 'button', part: 'button', text: this.t('cancel'), onclick: () => this.start() }));
    }

    async send(code) {
      let result;
      try {
        result = await this.answer(code);
      } catch (e) {
        this.emit('sign-in-failed', {});
        throw { message: this.t('challengeOver') };
      }
      const next = result && result.nextStep;
      if (result === true || (result && result.isSignedIn) || (next && next.signInStep === 'DONE')) {
        return this.signedIn();
      }
      if (next && next.additionalInfo) this.params = next.additionalInfo;
      this.emit('code-refused', {});
      throw { message: this.t('challengeWrong') };
    }

    async signedIn() {
      let token = null;
      try {
        token = typeof this.getToken === 'function' ? await this.getToken() : null;
      } catch (e) {
        token = null;
      }
      const detail = token ? signInClaims(token) : {};
      // After a backup code, or with few left, the moment to make new ones; after setting up the
      // app at sign-in, the moment to make the first ones.
      const prompt = detail.method === 'enrollment' ? this.t('makeFirstCodes')
        : (detail.method === 'backup_code' || detail.low)
          ? this.t(detail.remaining_codes === 1 ? 'codesLeftOne' : 'codesLeft', { count: detail.remaining_codes }) : null;
      this.show(h('h2', { text: this.t('signedIn') }),
        detail.method === 'backup_code' && h('p', { text: this.t('signedInWithCode') }),
        prompt && h('button', { type: 'button', class: 'primary', part: 'button', text: prompt, onclick: () => this.emit('new-codes-wanted', detail) }));
      this.say(this.t('signedIn'));
      this.emit('signed-in', detail);
    }
  }

  define('backup-codes-challenge', Challenge);
})();
