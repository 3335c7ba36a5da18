/** hostsync's version; a test keeps it equal to package.json's (the single binary has no package.json). */
export const VERSION = '0.1.0';
