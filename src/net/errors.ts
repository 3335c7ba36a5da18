/**
 * Network failures in words, for every HTTP edge (REST, poll, git's wire protocol): a TLS failure
 * names the certificate problem OpenSSL reported, what it usually means and the fix (caFile for a
 * private CA); a proxy failure names the proxy (never its password) and what it answered.
 * TLS codes: https://nodejs.org/api/tls.html#x509-certificate-error-codes
 */

/** What each certificate error usually means for a hostsync host. */
const MEANINGS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is signed by a CA this host does not trust (a private CA, or the server does not send its intermediate certificate)',
  UNABLE_TO_GET_ISSUER_CERT: 'the issuer of a certificate in the chain is unknown to this host (a private CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer of the server certificate is unknown to this host (a private CA, or a TLS-inspecting proxy)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a self-signed root this host does not trust (a private CA, or a TLS-inspecting proxy)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed',
  CERT_HAS_EXPIRED: 'a certificate in the chain has expired (check the clock of this host too)',
  CERT_NOT_YET_VALID: "a certificate in the chain is not valid yet (check this host's clock)",
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is not issued for this host name (hostname mismatch): the URL names another host than the certificate does',
  CERT_SIGNATURE_FAILURE: 'a certificate signature does not verify',
  CERT_REVOKED: 'a certificate in the chain was revoked',
};

/** The TLS-related code in an error or its causes, if any. */
export function tlsCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const code = 'code' in current ? (current as { code: unknown }).code : undefined;
    if (typeof code === 'string' && (code in MEANINGS || /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code))) return code;
    current = 'cause' in current ? (current as { cause: unknown }).cause : undefined;
  }
  return undefined;
}

/**
 * One line for a TLS failure talking to `host`, or undefined when `error` is not one. Names the
 * code and the fix; `caFile` is the file in use, if any.
 */
export function describeTlsFailure(error: unknown, host: string, caFile: string | undefined): string | undefined {
  const code = tlsCode(error);
  if (code === undefined) return undefined;
  const meaning = MEANINGS[code] ?? 'the TLS handshake failed';
  const fix =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? 'Use the host name the certificate was issued for in the URL.'
      : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
        ? "Renew the server's certificate, or fix this host's clock."
        : caFile === undefined
          ? "If the server uses a private CA, put the CA's certificate (PEM) in a file and set caFile (--ca-file) to it."
          : `caFile ${caFile} does not hold the CA that signed it: add that CA's certificate (PEM) to the file.`;
  return `TLS error talking to ${host} (${code}): ${meaning}. ${fix}`;
}

/** The line for a proxy that wants credentials, or refused the ones given (HTTP 407). */
export function proxyAuthMessage(proxy: string | undefined, target: string): string {
  return `The proxy${proxy === undefined ? '' : ` ${proxy}`} answered 407 Proxy Authentication Required for ${target}: it wants credentials, or refused the ones given. Put them in the proxy URL, http://USER:PASSWORD@host:port (proxy, HTTPS_PROXY); the password is never printed.`;
}

/**
 * One line for a failure at the proxy (a refused or unauthorised CONNECT), or undefined. `proxy`
 * is the proxy as shown to people (describeProxy: no password), when known.
 */
export function describeProxyFailure(error: unknown, proxy: string | undefined, target: string): string | undefined {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    messages.push(current.message);
    current = current.cause;
  }
  const text = messages.join(' / ');
  const status = /Proxy response \((\d{3})\)|Proxy Authentication Required \((407)\)/.exec(text);
  const code = status?.[1] ?? status?.[2];
  if (code === '407') return proxyAuthMessage(proxy, target);
  if (code !== undefined) return `The proxy${proxy === undefined ? '' : ` ${proxy}`} refused to connect to ${target} (HTTP ${code}). Check that it allows CONNECT to that host and port, or list the host in noProxy.`;
  return undefined;
}
