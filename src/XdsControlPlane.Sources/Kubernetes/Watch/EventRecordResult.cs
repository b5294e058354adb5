using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Model;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>What one <see cref="ClusterEventRecorder.RecordAsync"/> call did.</summary>
/// <param name="NoClusterObject">Tenant diagnostics whose tenant has no Cluster object to carry an Event.</param>
public sealed record EventRecordResult(int Created, int Updated, int Unchanged, int NoClusterObject, int Failed);
