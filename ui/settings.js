/* <backup-codes-settings>: the user's whole second factor on one card (needs base.js). */
(() => {
  'use strict';
  const { Base, h, uid, define } = window.BackupCodes;

  class Settings extends Base {
    start() {
      this.loaded = this.load();
    }

    // Opens "Make new backup codes" as if pressed: where the challenge's "N codes left: make
    // new ones" leads (its backup-codes-new-codes-wanted event).
    async makeNewCodes() {
      await this.loaded;
      if (this.enrolled) this.ask('regenerate', 'proof', (code) => this.regenerate(code));
    }

    async load(message) {
      this.say(this.t('loading'));
      try {
        const { json } = await this.call('GET', '/v1/backup-codes');
        this.overview(json, message);
      } catch (problem) {
        if (problem.code === 'not_enrolled') this.notEnrolled(message);
        else if (problem.code === 'federated_user') this.federated();
        else this.fail(problem);
      }
    }

    // Single sign-on: the identity provider owns the second factor, so the card offers nothing.
    federated() {
      this.enrolled = false;
      this.say('');
      this.show(h('h2', { text: this.t('title') }), h('p', { text: this.t('federated') }));
    }

    notEnrolled(message) {
      this.enrolled = false;
      this.say(message);
      this.show(h('h2', { text: this.t('title') }), h('p', { text: this.t('off') }),
        h('button', { type: 'button', class: 'primary', part: 'button', text: this.t('setUp'), onclick: () => this.begin().catch((p) => this.fail(p)) }));
    }

    async begin(proof) {
      const { json } = await this.call('POST', '/v1/totp/enrollment', { proof });
      this.signsOut = json.sessions_end_on_change;
      this.say('');
      this.show(h('h2', { text: this.t('scanTitle') }), h('p', { text: this.t('scanHelp') }), this.qr(json.qr_svg), this.secretKey(json.secret),
        this.codeForm(this.t('appCode'), this.t('confirm'), async (code) => {
          const answer = await this.call('POST', '/v1/totp/enrollment/confirm', { body: { code }, file: true });
          if (answer.json && answer.json.authenticator_replaced) {
            this.emit('authenticator-replaced', {});
            return this.load(this.changed('replaced'));
          }
          this.emit('enrolled', {});
          this.codes(answer.text, null);
        }, { digits: true, cancel: () => this.load() }));
    }

    // The API's own file: a header naming the product and date, a blank line, one code a line.
    codes(file, pending) {
      const [header, body = ''] = file.split(/\n\n/);
      const [product] = header.split('\n');
      const date = (header.match(/\d{4}-\d{2}-\d{2}/) || [''])[0];
      const list = body.split('\n').filter(Boolean);
      const url = URL.createObjectURL(new Blob([file], { type: 'text/plain' }));
      const tick = h('input', { type: 'checkbox', id: uid(), part: 'checkbox' });
      const next = h('button', { type: 'button', class: 'primary', part: 'button', disabled: true, text: this.t('continue') });
      tick.addEventListener('change', () => { next.disabled = !tick.checked; });
      next.addEventListener('click', async () => {
        next.disabled = true;
        try {
          if (pending) await this.call('POST', '/v1/backup-codes/activate', { body: { set_id: pending.id } });
          URL.revokeObjectURL(url);
          this.emit('codes-saved', { count: list.length, generated: date });
          this.load(this.changed(pending ? 'activated' : 'enrolledDone'));
        } catch (problem) {
          this.fail(problem);
          next.disabled = false;
        }
      });
      this.say('');
      this.show(h('h2', { text: this.t('codesTitle') }), h('p', { text: this.t('codesHelp') }),
        pending && h('p', { text: this.t('codesPending', { time: this.when(pending.expires) }) }),
        h('div', { class: 'printable' }, h('p', { class: 'print-only', text: product }), h('p', { class: 'print-only', text: date }),
          h('ol', { class: 'codes', part: 'codes', 'aria-label': this.t('codesList') }, list.map((c) => h('li', null, h('code', { text: c }))))),
        h('div', null,
          h('a', { href: url, download: 'backup-codes.txt', class: 'button', part: 'button', text: this.t('download') }),
          h('button', { type: 'button', part: 'button', text: this.t('print'), onclick: () => window.print() }),
          h('button', { type: 'button', part: 'button', text: this.t('copy'), onclick: () => this.copy(list) })),
        h('p', null, h('label', { class: 'check', for: tick.id }, tick, ' ', this.t('saved'))), next);
      this.emit('codes-shown', { count: list.length, generated: date });
    }

    async copy(list) {
      try {
        await navigator.clipboard.writeText(list.join('\n') + '\n');
        this.say(this.t('copied'));
      } catch (e) {
        this.fail({ message: this.t('copyFailed') });
      }
    }

    // What a change of the factor says: and, where the stack ends the user's sessions after
    // one, that they sign in again (this page's own session included, once its token expires).
    changed(key) {
      return this.signsOut ? `${this.t(key)} ${this.t('signInAgain')}` : this.t(key);
    }

    overview(s, message) {
      this.enrolled = true;
      this.signsOut = s.sessions_end_on_change;
      this.say(message);
      const codes = s.total ? this.t('left', { remaining: s.remaining, total: s.total, date: this.when(s.generated_at) }) : this.t('none');
      const actions = [
        ['regenerate', 'proof', (code) => this.regenerate(code)],
        ['remove', 'proof', (code) => this.remove(code)],
        ['replace', 'proof', (code) => this.begin(code)],
        ['lost', 'lostProof', (code) => this.begin(code)],
        ['disable', 'proof', (code) => this.disable(code)],
      ].filter(([name]) => (name !== 'remove' || s.total) && (name !== 'disable' || !s.required_by.length));
      this.show(h('h2', { text: this.t('title') }),
        h('dl', null, h('dt', { text: this.t('app') }), h('dd', { text: this.t('onSince', { date: this.when(s.totp.since) }) }),
          h('dt', { text: this.t('codes') }), h('dd', { text: codes })),
        s.totp.replacement && this.replacement(s.totp.replacement),
        s.required_by.length > 0 && h('p', { class: 'muted', text: this.t('requiredBy', { accounts: s.required_by.map((a) => `\u201c${a}\u201d`).join(', ') }) }),
        s.low && s.total > 0 && h('p', { class: 'warn', part: 'warning', text: this.t('low', { remaining: s.remaining }) }),
        s.pending_set && h('p', { class: 'muted', text: this.t('pendingSet', { time: this.when(s.pending_set.generated_at), expires: this.when(s.pending_set.expires_at) }) }),
        s.pending_download && h('p', { class: 'warn', text: this.t('pendingDownload') }),
        s.used.length > 0 && h('details', null, h('summary', { text: this.t('used', { count: s.used.length }) }),
          h('ul', null, s.used.map((u) => h('li', { text: u.number ? this.t('usedAt', { number: u.number, time: this.when(u.used_at) }) : this.t('usedAtUnnumbered', { time: this.when(u.used_at) }) })))),
        h('div', { part: 'actions' }, actions.map(([name, proof, act]) =>
          h('button', { type: 'button', part: 'button', class: name === 'disable' ? 'danger' : null, text: this.t(name),
            onclick: () => this.ask(name, proof, act) }))),
        this.activity('/v1/audit'));
    }

    // Where the pending replacement was started, by the server's own words (never the client's
    // user agent), and its Cancel: by the token alone, since cancelling only takes power away.
    replacement(r) {
      const cancel = async () => {
        try {
          await this.call('DELETE', '/v1/totp/enrollment/replacement');
          this.emit('replacement-cancelled', {});
          this.load(this.t('replacementCancelled'));
        } catch (problem) {
          this.fail(problem);
        }
      };
      return h('div', { class: 'warn', part: 'warning' },
        h('p', { text: this.t('replacing', { time: this.when(r.started_at), ip: r.ip || this.t('unknown'), device: r.device || this.t('unknown') }) }),
        h('button', { type: 'button', part: 'button', class: 'danger', text: this.t('cancelReplacement'), onclick: cancel }));
    }

    // Every change says what will happen and asks for a proof before anything is sent.
    ask(name, proof, act) {
      this.say('');
      this.show(h('h2', { text: this.t(name) }), h('p', { text: this.t(`${name}Info`) }),
        this.codeForm(this.t(proof), this.t(name), act, { danger: name !== 'regenerate', cancel: () => this.load(), focus: true }));
    }

    async regenerate(proof) {
      const { response, text } = await this.call('POST', '/v1/backup-codes', { proof, file: true });
      this.codes(text, { id: response.headers.get('X-Backup-Codes-Set-Id'), expires: response.headers.get('X-Backup-Codes-Expires-At') });
    }

    async remove(proof) {
      await this.call('DELETE', '/v1/backup-codes', { proof });
      this.emit('codes-removed', {});
      this.load(this.changed('removed'));
    }

    async disable(proof) {
      await this.call('DELETE', '/v1/totp/enrollment', { proof });
      this.emit('two-factor-disabled', {});
      this.notEnrolled(this.changed('disabled'));
    }
  }

  define('backup-codes-settings', Settings);
})();
