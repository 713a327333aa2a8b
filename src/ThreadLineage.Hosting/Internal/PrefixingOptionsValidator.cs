using Microsoft.Extensions.Options;

namespace ThreadLineage.Hosting.Internal;

/// <summary>
/// Wraps a validator the application added for a registered manager's options, so that its failures start with
/// <c>Thread pool manager '{name}': </c> like the hosting integration's own.
/// </summary>
internal sealed class PrefixingOptionsValidator : IValidateOptions<ThreadPoolManagerOptions>
{
    private readonly IValidateOptions<ThreadPoolManagerOptions> _inner;
    private readonly IReadOnlySet<string> _registered;

    public PrefixingOptionsValidator(IValidateOptions<ThreadPoolManagerOptions> inner, IReadOnlySet<string> registered)
    {
        _inner = inner;
        _registered = registered;
    }

    public ValidateOptionsResult Validate(string? name, ThreadPoolManagerOptions options)
    {
        var result = _inner.Validate(name, options);
        if (!result.Failed || name is null || !_registered.Contains(name))
        {
            return result;
        }

        IEnumerable<string> failures = result.Failures ?? [result.FailureMessage];
        return ValidateOptionsResult.Fail(failures.Select(failure => ThreadPoolManagerOptionsValidator.Prefix(name, failure)));
    }
}
