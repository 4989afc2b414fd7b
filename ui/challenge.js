/* <backup-codes-challenge>: the code step of a Cognito custom-auth sign-in (needs base.js). */
(() => {
  'use strict';
  const { Base, h, define } = window.BackupCodes;

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
        this.codeForm(this.t(enrolling ? 'appCode' : 'challengeProof'), this.t('verify'), (code) => this.send(code), { digits: enrolling, focus: true }));
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
        this.show(h('h2', { text: this.t('signedIn') }));
        this.say(this.t('signedIn'));
        return this.emit('signed-in', {});
      }
      if (next && next.additionalInfo) this.params = next.additionalInfo;
      this.emit('code-refused', {});
      throw { message: this.t('challengeWrong') };
    }
  }

  define('backup-codes-challenge', Challenge);
})();
