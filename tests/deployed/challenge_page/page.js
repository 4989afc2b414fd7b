// A team's sign-in page on its own origin: Amplify signs in with CUSTOM_WITH_SRP, the
// <backup-codes-challenge> component asks for the code (the README's example), and once
// signed in <backup-codes-settings> calls the deployed API across origins with the ID token.
(async () => {
  'use strict';
  const config = await (await fetch('/config.json')).json();
  const { Amplify, signIn, confirmSignIn, fetchAuthSession, signOut } = window.AmplifyForTest;
  Amplify.configure({
    Auth: { Cognito: { userPoolId: config.userPoolId, userPoolClientId: config.userPoolClientId, userPoolEndpoint: config.userPoolEndpoint } },
  });

  const idToken = async () => (await fetchAuthSession()).tokens?.idToken?.toString();

  document.getElementById('password-step').addEventListener('submit', async (event) => {
    event.preventDefault();
    // A page opened again while a session is kept: sign out first, as a "switch user" would.
    if ((await fetchAuthSession()).tokens) await signOut().catch(() => {});
    const { nextStep } = await signIn({
      username: document.getElementById('username').value,
      password: document.getElementById('password').value,
      options: { authFlowType: 'CUSTOM_WITH_SRP' },
    });
    if (nextStep.signInStep !== 'CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE') return;
    const challenge = document.createElement('backup-codes-challenge');
    challenge.parameters = nextStep.additionalInfo;
    challenge.answer = (code) => confirmSignIn({ challengeResponse: code });
    challenge.addEventListener('backup-codes-signed-in', async () => {
      window.signedInToken = await idToken();
      document.getElementById('session').textContent = 'Signed in.';
      const settings = document.createElement('backup-codes-settings');
      settings.getToken = idToken;
      document.getElementById('settings').replaceChildren(settings);
    });
    document.getElementById('code-step').replaceChildren(challenge);
  });
})();
