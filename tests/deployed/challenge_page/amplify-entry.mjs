// What a team's sign-in page imports from aws-amplify, bundled once by infra/emulators.sh
// (esbuild) into one classic script, because the test page has no build step of its own.
import { Amplify } from 'aws-amplify';
import { signIn, confirmSignIn, fetchAuthSession, signOut } from 'aws-amplify/auth';

window.AmplifyForTest = { Amplify, signIn, confirmSignIn, fetchAuthSession, signOut };
