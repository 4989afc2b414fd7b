// A team's sign-in page on its own origin: Amplify signs in with CUSTOM_WITH_SRP, the
// <backup-codes-challenge> component asks for the code (docs/cognito.md's client), and once
// signed in <backup-codes-settings> calls the deployed API across origins with the ID token.
// A user with a temporary password sets a new one first, then signs in again with it.
(async () => {
  'use strict';
  const config = await (await fetch('/config.json')).json();
  const { Amplify, signIn, confirmSignIn, fetchAuthSession, signOut } = window.AmplifyForTest;
  Amplify.configure({
    Auth: { Cognito: { userPoolId: config.userPoolId, userPoolClientId: config.userPoolClientId, userPoolEndpoint: config.userPoolEndpoint } },
  });

  const options = { authFlowType: 'CUSTOM_WITH_SRP' };
  const idToken = async () => (await fetchAuthSession()).tokens?.idToken?.toString();
  const newPasswordStep = document.getElementById('new-password-step');
  const status = document.getElementById('session');
  let username = '';

  function showChallenge(nextStep) {
    if (nextStep.signInStep !== 'CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE') return;
    const challenge = document.createElement('backup-codes-challenge');
    challenge.parameters = nextStep.additionalInfo;
    challenge.answer = (code) => confirmSignIn({ challengeResponse: code });
    // The challenge reads how the user signed in from the ID token (docs/components.md).
    challenge.getToken = idToken;
    const settings = document.createElement('backup-codes-settings');
    settings.getToken = idToken;
    challenge.addEventListener('backup-codes-signed-in', async (event) => {
      window.signedInToken = await idToken();
      window.signedInDetail = event.detail;
      status.textContent = 'Signed in.';
      document.getElementById('settings').replaceChildren(settings);
    });
    // "N codes left: make new ones" opens the settings card's regenerate.
    challenge.addEventListener('backup-codes-new-codes-wanted', () => settings.makeNewCodes());
    document.getElementById('code-step').replaceChildren(challenge);
  }

  document.getElementById('password-step').addEventListener('submit', async (event) => {
    event.preventDefault();
    // A page opened again while a session is kept: sign out first, as a "switch user" would.
    if ((await fetchAuthSession()).tokens) await signOut().catch(() => {});
    username = document.getElementById('username').value;
    const { nextStep } = await signIn({ username, password: document.getElementById('password').value, options });
    if (nextStep.signInStep === 'CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED') {
      newPasswordStep.hidden = false;
      document.getElementById('new-password').focus();
      return;
    }
    showChallenge(nextStep);
  });

  newPasswordStep.addEventListener('submit', async (event) => {
    event.preventDefault();
    const password = document.getElementById('new-password').value;
    let nextStep;
    try {
      ({ nextStep } = await confirmSignIn({ challengeResponse: password }));
    } catch (refused) {
      // The password is changed, but Cognito ran no challenge: sign in again with it.
      if (refused.name !== 'UserLambdaValidationException') throw refused;
      window.newPasswordRefusal = refused.name;
      ({ nextStep } = await signIn({ username, password, options }));
    }
    newPasswordStep.hidden = true;
    showChallenge(nextStep);
  });
})();
